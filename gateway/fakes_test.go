package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"
)

// Test doubles of the gateway's collaborators: an in-memory Store with the semantics the
// interface documents (atomic enqueue with the duplicate history, leases, in-order hold), and a
// Directory over plain maps. The real registry and audit store are exercised by their own
// packages and by the end-to-end tests.

type memQueued struct {
	m          *QueuedMessage
	leaseUntil time.Time
	failed     string
}

type memStore struct {
	mu       sync.Mutex
	now      func() time.Time
	counters map[string]int
	records  []*Record
	queues   map[string]map[string]*memQueued
	seen     map[string]time.Time
	next     map[string]int // inbox: next sequence number per conversation
	failed   map[string]string
	pingErr  error
	passes   map[string]int // Lease calls per queue: each is one pass of that queue's worker
	handed   map[string]int // messages Lease handed out, per queue
	idem     map[string]*IdempotentRequest
	// beforeKeep, when set, runs (under mu) before a synchronous request keeps its key: a test's
	// concurrent request under the same key, kept first.
	beforeKeep func(r *IdempotentRequest)
}

func newMemStore(now func() time.Time) *memStore {
	return &memStore{
		now: now, counters: map[string]int{}, seen: map[string]time.Time{}, next: map[string]int{},
		queues: map[string]map[string]*memQueued{Outbox: {}, Inbox: {}}, failed: map[string]string{},
		passes: map[string]int{}, handed: map[string]int{}, idem: map[string]*IdempotentRequest{},
	}
}

func (s *memStore) Reserve(_ context.Context, key string, n int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := s.counters[key] + 1
	s.counters[key] += n
	return first, nil
}

func (s *memStore) Ping(context.Context) error { return s.pingErr }

func (s *memStore) Trace(_ context.Context, recs ...*Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, recs...)
	return nil
}

func (s *memStore) Enqueue(_ context.Context, queue string, m *QueuedMessage, recs ...*Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if queue == Inbox {
		key := m.Header.Sender[0].Name + "/" + m.ID
		if _, dup := s.seen[key]; dup {
			return ErrDuplicate
		}
		s.seen[key] = m.Expires
	}
	cp := *m
	if cp.NotBefore.IsZero() {
		cp.NotBefore = s.now()
	}
	q := &memQueued{m: &cp}
	cp.Leases, cp.Owner, cp.LeaseUntil = 0, "", time.Time{}
	if m.Owner != "" && s.due(queue, q, s.now()) {
		cp.Leases, cp.Owner, q.leaseUntil = 1, m.Owner, m.LeaseUntil
	}
	m.Leases, m.Owner, m.LeaseUntil = cp.Leases, cp.Owner, q.leaseUntil
	s.queues[queue][m.ID] = q
	s.records = append(s.records, recs...)
	return nil
}

// due reports whether Lease would hand q out now.
func (s *memStore) due(queue string, q *memQueued, now time.Time) bool {
	if q.failed != "" || q.m.NotBefore.After(now) || now.Before(q.leaseUntil) {
		return false
	}
	if queue == Inbox && q.m.Sequence > 0 {
		want := s.next[q.m.Conversation]
		if want == 0 {
			want = 1
		}
		return q.m.Sequence == want // else held until the gap fills
	}
	return true
}

func (s *memStore) Lease(_ context.Context, queue, _ string, n int, lease time.Duration) ([]*QueuedMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.passes[queue]++
	now := s.now()
	var due []*memQueued
	for _, q := range s.queues[queue] {
		if s.due(queue, q, now) {
			due = append(due, q)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].m.Created.Before(due[j].m.Created) })
	if len(due) > n {
		due = due[:n]
	}
	s.handed[queue] += len(due)
	out := make([]*QueuedMessage, len(due))
	for i, q := range due {
		q.leaseUntil = now.Add(lease)
		q.m.Leases++
		cp := *q.m
		out[i] = &cp
	}
	return out, nil
}

func (s *memStore) Done(_ context.Context, queue, id string, rec *Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[queue][id]
	if !ok {
		return fmt.Errorf("%s: no message %s", queue, id)
	}
	delete(s.queues[queue], id)
	if queue == Inbox && q.m.Sequence > 0 {
		s.next[q.m.Conversation] = q.m.Sequence + 1
	}
	if rec != nil {
		s.records = append(s.records, rec)
	}
	return nil
}

func (s *memStore) Retry(_ context.Context, queue, id string, next time.Time, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[queue][id]
	if !ok {
		return fmt.Errorf("%s: no message %s", queue, id)
	}
	q.m.Attempts++
	q.m.NotBefore, q.leaseUntil = next, time.Time{}
	return nil
}

func (s *memStore) Fail(_ context.Context, queue, id, reason string, rec *Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.queues[queue][id]; !ok {
		return fmt.Errorf("%s: no message %s", queue, id)
	}
	delete(s.queues[queue], id)
	s.failed[id] = reason
	if rec != nil {
		s.records = append(s.records, rec)
	}
	return nil
}

func (s *memStore) Seen(_ context.Context, sender, id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.seen[sender+"/"+id]
	return ok, nil
}

func (s *memStore) Remember(_ context.Context, sender, id string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[sender+"/"+id]; ok {
		return ErrDuplicate
	}
	s.seen[sender+"/"+id] = until
	return nil
}

func (s *memStore) Lookup(_ context.Context, id string, dir Direction) (*Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.records) - 1; i >= 0; i-- {
		r := s.records[i]
		if r.Direction == dir && r.Header != nil && r.Header.ID == id {
			return r, nil
		}
	}
	return nil, nil
}

func (s *memStore) Depth(_ context.Context, queue string) (int, time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var oldest time.Duration
	for _, q := range s.queues[queue] {
		if age := s.now().Sub(q.m.Created); age > oldest {
			oldest = age
		}
	}
	return len(s.queues[queue]), oldest, nil
}

func (s *memStore) IdempotentRequest(_ context.Context, app, key string) (*IdempotentRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.idem[app+"/"+key]
	if !ok || !s.now().Before(r.Expires) {
		return nil, nil
	}
	cp := *r
	return &cp, nil
}

func (s *memStore) keep(r *IdempotentRequest) error {
	if old, ok := s.idem[r.App+"/"+r.Key]; ok && s.now().Before(old.Expires) {
		return ErrKeyTaken
	}
	cp := *r
	s.idem[r.App+"/"+r.Key] = &cp
	return nil
}

func (s *memStore) EnqueueIdempotent(ctx context.Context, queue string, m *QueuedMessage, r *IdempotentRequest, recs ...*Record) error {
	s.mu.Lock()
	if err := s.keep(r); err != nil {
		s.mu.Unlock()
		return err
	}
	s.mu.Unlock()
	return s.Enqueue(ctx, queue, m, recs...)
}

func (s *memStore) KeepIdempotent(_ context.Context, r *IdempotentRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.beforeKeep != nil {
		s.beforeKeep(r)
	}
	return s.keep(r)
}

func (s *memStore) SettleIdempotent(_ context.Context, app, key string, status int, header http.Header, body []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.idem[app+"/"+key]
	if !ok {
		return fmt.Errorf("idempotency key %q of %s: not kept", key, app)
	}
	r.Status, r.Header, r.Body = status, header.Clone(), body
	return nil
}

func (s *memStore) queued(queue string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queues[queue])
}

// leases is how many times the queue's worker has leased from it.
func (s *memStore) leases(queue string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.passes[queue]
}

// leased is how many messages Lease handed out from queue.
func (s *memStore) leased(queue string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handed[queue]
}

func (s *memStore) failure(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed[id]
}

// tracesOf returns the records of a transaction.
func (s *memStore) traces() []*Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Record(nil), s.records...)
}

// testDir is a Directory over maps.
type testDir struct {
	mu        sync.Mutex
	parties   map[string]*Party
	hosted    map[string]bool
	services  map[string]*Service // provider/name
	consumers map[string]map[string]bool
	apps      map[string]string          // user → password
	appMay    map[string]map[string]bool // app → provider/service
	backends  map[string]Backend         // provider/name
}

func newTestDir() *testDir {
	return &testDir{
		parties: map[string]*Party{}, hosted: map[string]bool{}, services: map[string]*Service{},
		consumers: map[string]map[string]bool{}, apps: map[string]string{}, appMay: map[string]map[string]bool{},
		backends: map[string]Backend{},
	}
}

func (d *testDir) Party(name string) (*Party, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.parties[name]
	return p, ok
}
func (d *testDir) Hosted(name string) bool { d.mu.Lock(); defer d.mu.Unlock(); return d.hosted[name] }
func (d *testDir) Service(provider, name string) (*Service, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.services[provider+"/"+name]
	return s, ok
}
func (d *testDir) MayConsume(consumer string, s *Service) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.consumers[s.Provider+"/"+s.Name][consumer]
}
func (d *testDir) Application(r *http.Request) (string, error) {
	u, p, ok := r.BasicAuth()
	if !ok {
		return "", errors.New("no credentials: send HTTP Basic or a client certificate")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if want, known := d.apps[u]; !known || want != p {
		return "", fmt.Errorf("application %q: wrong user or password", u)
	}
	return u, nil
}
func (d *testDir) AppMay(app, _ string, s *Service) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.appMay[app][s.Provider+"/"+s.Name]
}
func (d *testDir) Backend(s *Service) (Backend, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.backends[s.Provider+"/"+s.Name]
	return b, ok
}

// identity is a party's key and certificate, used both to sign and for TLS.
type identity struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	tls  tls.Certificate
}

func newIdentity(t testing.TB, name string, now time.Time) *identity {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: name, Organization: []string{name}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:    []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &identity{key: key, cert: cert, tls: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}
}
