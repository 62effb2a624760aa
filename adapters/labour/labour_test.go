package labour

import (
	"io/fs"
	"slices"
	"testing"

	"porta/wsdl"
	"porta/xsd"
)

// The table is what every registry, backend and flow reads: each entry must name files that exist
// and actions that do not collide.
func TestServicesAreConsistent(t *testing.T) {
	actions, adapters, names := map[string]string{}, map[string]bool{}, map[string]bool{}
	for _, s := range Services {
		if names[s.Name] {
			t.Errorf("service %s listed twice", s.Name)
		}
		names[s.Name] = true
		if len(s.Providers) == 0 || len(s.Consumers) == 0 || len(s.Actions) == 0 {
			t.Errorf("%s: providers %v, consumers %v, actions %v: want at least one of each", s.Name, s.Providers, s.Consumers, s.Actions)
		}
		if _, err := fs.Stat(wsdl.FS, s.WSDL); err != nil {
			t.Errorf("%s: WSDL %s: %v", s.Name, s.WSDL, err)
		}
		if _, err := fs.Stat(xsd.Tree(), s.Schema); err != nil {
			t.Errorf("%s: schema %s: %v", s.Name, s.Schema, err)
		}
		if adapters[s.Adapter] {
			t.Errorf("%s: adapter %s named twice", s.Name, s.Adapter)
		}
		adapters[s.Adapter] = true
		for _, a := range s.Actions {
			if other, dup := actions[a]; dup {
				t.Errorf("action %s in %s and %s", a, other, s.Name)
			}
			actions[a] = s.Name
			if ByAction(a) != s {
				t.Errorf("ByAction(%s) is not %s", a, s.Name)
			}
		}
		if w := s.Worker; w != nil {
			if !slices.Contains(s.Actions, w.Action) || w.Build == nil || ByWhat(w.What) != s {
				t.Errorf("%s: worker document %+v: want one of its actions, a builder and a unique name", s.Name, w)
			}
			if s.Sync() != (w.Reply != nil) {
				t.Errorf("%s: profile %s but Reply set %v: a synchronous document's answer must be read", s.Name, s.Profile, w.Reply != nil)
			}
		}
	}
	if got := AllWhat(); !slices.Equal(got, []string{WhatSAP, WhatDID, WhatCandidatura, WhatEuropass}) {
		t.Errorf("AllWhat() = %v", got)
	}
}

// The simulated providers' answers are what the flows accept.
func TestAnswersAreAccepted(t *testing.T) {
	set, err := xsd.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	o := &Options{Validator: set}
	for _, s := range WorkerDocs() {
		if s.Worker.Answer == nil {
			continue
		}
		if err := s.Worker.Reply(o, s.Worker.Answer(7)); err != nil {
			t.Errorf("%s: the simulated answer is refused: %v", s.Name, err)
		}
	}
}
