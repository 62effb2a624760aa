package ops

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"porta/audit"
	"porta/registry"
)

func (a *API) failures(w http.ResponseWriter, r *http.Request, _ *caller) error {
	if a.opt.Failures == nil {
		return notFound("this node keeps no provincial failures (porta.yaml names no province store; porta failures list --province DSN reads one)")
	}
	status := r.URL.Query().Get("status")
	switch status {
	case "", "open":
		status = "open"
	case "resolved":
	case "all":
		status = ""
	default:
		return badRequest("status %q: want open, resolved or all", status)
	}
	list, err := a.opt.Failures(r.Context(), status)
	if err != nil {
		return err
	}
	if list == nil {
		list = []Failure{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list})
	return nil
}

func (a *API) outbox(w http.ResponseWriter, r *http.Request, _ *caller) error {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return badRequest("limit %q: want a number from 1 to 1000", v)
		}
		limit = n
	}
	var items []*audit.Item
	var err error
	state := q.Get("state")
	switch state {
	case "", "pending":
		state = "pending"
		items, err = a.opt.Store.Pending(r.Context(), audit.Outbox, limit)
	case "failed":
		items, err = a.opt.Store.Failed(r.Context(), audit.Outbox, limit)
	default:
		return badRequest("state %q: want pending or failed", state)
	}
	if err != nil {
		return err
	}
	if items == nil {
		items = []*audit.Item{}
	}
	writeJSON(w, http.StatusOK, struct {
		State string        `json:"state"`
		Items []*audit.Item `json:"items"`
	}{state, items})
	return nil
}

func (a *API) requeue(w http.ResponseWriter, r *http.Request, c *caller) error {
	id := pathValue(r, "id")
	err := a.opt.Store.Requeue(r.Context(), audit.Outbox, id)
	if errors.Is(err, audit.ErrNotQueued) {
		return notFound("no failed outbox message %q: only a failed one can be requeued (GET /api/v1/outbox?state=failed lists them)", id)
	}
	if err != nil {
		return err
	}
	a.trace(r, c.name, ActionRequeue, "outbox message "+id+" made ready to send again")
	writeJSON(w, http.StatusOK, map[string]string{"msg_id": id, "message": "requeued: the outbox sends it again at once; GET /api/v1/transactions?id=" + url.QueryEscape(id) + " shows the attempt"})
	return nil
}

// Job is one of porta.yaml's jobs with its shared state and its last runs.
type Job struct {
	JobInfo
	State *audit.JobState `json:"state,omitempty"`
	Runs  []*audit.JobRun `json:"runs"`
}

// jobRunsShown is how many of a job's last runs GET /api/v1/jobs shows.
const jobRunsShown = 5

func (a *API) jobs(w http.ResponseWriter, r *http.Request, _ *caller) error {
	states, err := a.opt.Store.JobStates(r.Context())
	if err != nil {
		return err
	}
	byName := map[string]*audit.JobState{}
	for _, st := range states {
		byName[st.Job] = st
	}
	out := []Job{}
	for _, j := range a.opt.Jobs {
		runs, err := a.opt.Store.JobRuns(r.Context(), j.Name, jobRunsShown)
		if err != nil {
			return err
		}
		if runs == nil {
			runs = []*audit.JobRun{}
		}
		out = append(out, Job{JobInfo: j, State: byName[j.Name], Runs: runs})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

func (a *API) runJob(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := pathValue(r, "name")
	known := false
	for _, j := range a.opt.Jobs {
		known = known || j.Name == name
	}
	if !known {
		return notFound("no job %q in porta.yaml (GET /api/v1/jobs lists them)", name)
	}
	st, err := a.opt.Store.MakeJobDue(r.Context(), name)
	if err != nil {
		return err
	}
	a.trace(r, c.name, ActionJobRun, "job "+name+" made due now")
	msg := "due now: a node runs it within its next look at the job (at most the lease); GET /api/v1/jobs shows the run"
	if a.opt.Wake != nil && a.opt.Wake(name) {
		msg = "due now: this node starts it at once unless a run is under way; GET /api/v1/jobs shows the run"
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"job": name, "due": st.Due, "message": msg})
	return nil
}

// RegistryView is the registry without secrets.
type RegistryView struct {
	Parties      []PartyView   `json:"parties"`
	Services     []ServiceView `json:"services"`
	Applications []AppView     `json:"applications"`
}

// PartyView is a party with its certificates' validity.
type PartyView struct {
	Name         string     `json:"name"`
	Type         string     `json:"type"`
	PortID       string     `json:"port_id"`
	URL          string     `json:"url,omitempty"`
	Hosted       bool       `json:"hosted"`
	Profile      string     `json:"profile,omitempty"`
	Certificates []CertView `json:"certificates"`
}

// CertView is a certificate's identity and validity.
type CertView struct {
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	Serial      string    `json:"serial"`
	Fingerprint string    `json:"fingerprint"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	DaysLeft    int       `json:"days_left"`
}

// ServiceView is an agreement (accordo di servizio): who provides it, how, and who may call it.
type ServiceView struct {
	Provider  string   `json:"provider"`
	Name      string   `json:"name"`
	Type      string   `json:"type,omitempty"`
	Version   int      `json:"version,omitempty"`
	Profile   string   `json:"profile"`
	Actions   []string `json:"actions"`
	Consumers []string `json:"consumers"`
	Delivery  string   `json:"delivery,omitempty"`
	TraceBody string   `json:"trace_body,omitempty"`
}

// AppView is a local application: its name and how it authenticates, never its password hash.
type AppView struct {
	Name        string   `json:"name"`
	Username    string   `json:"username,omitempty"`
	CertSubject string   `json:"cert_subject,omitempty"`
	Grants      []string `json:"grants"`
}

func certView(c *x509.Certificate, now time.Time) CertView {
	left := c.NotAfter.Sub(now)
	days := int(left / (24 * time.Hour))
	if left < 0 && left%(24*time.Hour) != 0 {
		days-- // a certificate expired 1 hour ago is -1 days left, not 0
	}
	return CertView{Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: c.SerialNumber.String(), Fingerprint: registry.Fingerprint(c),
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), DaysLeft: days}
}

func (a *API) registry(w http.ResponseWriter, r *http.Request, _ *caller) error {
	if a.opt.Registry == nil || a.opt.Registry() == nil {
		return errorf(http.StatusServiceUnavailable, "unavailable", "this node's API was started without its registry")
	}
	reg := a.opt.Registry()
	now := a.opt.Now()
	v := RegistryView{Parties: []PartyView{}, Services: []ServiceView{}, Applications: []AppView{}}
	for _, p := range reg.Parties() {
		pv := PartyView{Name: p.Name, Type: p.Type, PortID: p.PortID, URL: p.URL, Hosted: p.Hosted, Profile: string(p.Interop), Certificates: []CertView{}}
		for _, c := range p.Certs {
			pv.Certificates = append(pv.Certificates, certView(c, now))
		}
		v.Parties = append(v.Parties, pv)
	}
	for _, s := range reg.Services() {
		sv := ServiceView{Provider: s.Provider, Name: s.Name, Type: s.Type, Version: s.Version, Profile: s.Profile.String(),
			Actions: append([]string{}, s.ActionOrder...), Consumers: append([]string{}, s.Consumers...), TraceBody: s.Trace.Body}
		if d := s.Delivery; d != nil {
			sv.Delivery = "adapter:" + d.Adapter
			if d.Adapter == "" {
				sv.Delivery = redactURL(d.URL)
			}
		}
		v.Services = append(v.Services, sv)
	}
	for _, app := range reg.Applications() {
		av := AppView{Name: app.Name, Username: app.Username, CertSubject: app.CertSubject, Grants: []string{}}
		for _, g := range app.Grants {
			av.Grants = append(av.Grants, fmt.Sprintf("%s->%s/%s", g.Consumer, g.Provider, g.Service))
		}
		v.Applications = append(v.Applications, av)
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// redactURL drops credentials a delivery URL may carry.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(an unreadable URL)"
	}
	u.User = nil
	return u.String()
}
