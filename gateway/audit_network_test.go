package gateway

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"porta/audit"
)

// TestProfilesOnAuditStore runs the four profiles between two gateways whose stores are the real
// audit store (SQLite): queues, duplicate history, counters and the correlation lookups that
// read headers back from the trail.
func TestProfilesOnAuditStore(t *testing.T) {
	n, stores := newAuditNetwork(t)
	depth := func(name string, q audit.Kind) int {
		st, err := stores[name].Stats(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		return st.Depth
	}
	ok := func(resp *http.Response) *http.Response {
		t.Helper()
		if body := readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("status %d\n%s", resp.StatusCode, body)
		}
		return resp
	}
	ok(n.prov.call(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", nil))

	n.min.drop.Store(1)
	ok(n.prov.call(t, "/pd/Provincia/Ministero/Comunicazione/Invia", nil))
	waitFor(t, "the one-way to be acknowledged", func() bool { return depth(prov, audit.Outbox) == 0 && n.min.be.count() == 2 })

	req := ok(n.prov.call(t, "/pd/Provincia/Ministero/Pratica/Richiedi", nil)).Header.Get(HeaderMessageID)
	waitFor(t, "the async request", func() bool { return depth(prov, audit.Outbox) == 0 && n.min.be.count() == 3 })
	ok(n.min.call(t, "/pd/Ministero/Provincia/PraticaRisposta/Esito", map[string]string{HeaderRelatesTo: req}))
	waitFor(t, "the risposta", func() bool { return depth(min_, audit.Outbox) == 0 && n.prov.be.count() == 1 })

	stampa := ok(n.prov.call(t, "/pd/Provincia/Ministero/Stampa/Stampa", nil)).Header.Get(HeaderMessageID)
	waitFor(t, "the asymmetric request", func() bool { return depth(prov, audit.Outbox) == 0 && n.min.be.count() == 4 })
	ok(n.prov.call(t, "/pd/Provincia/Ministero/Stampa/Stato", map[string]string{HeaderRelatesTo: stampa}))

	time.Sleep(50 * time.Millisecond)
	if c := n.min.be.count(); c != 5 {
		t.Errorf("provider backend got %d deliveries, want 5 (the one-way once)", c)
	}
	for name, s := range stores {
		rep, err := s.Verify(context.Background(), audit.VerifyOptions{})
		if err != nil || rep.Records < 10 {
			t.Errorf("%s: the trail of %d records does not verify: %v", name, rep.Records, err)
		}
	}
}

// testIndexKey is the test gateways' index key of business identifiers.
var testIndexKey = []byte("porta gateway tests' index key, 32 bytes or more")

// newAuditNetwork is the test network on the real audit store (SQLite, a file per gateway), with
// each gateway's store by name.
func newAuditNetwork(t *testing.T) (*network, map[string]*audit.Store) {
	stores := map[string]*audit.Store{}
	n := newNetworkOn(t, func(name string) Store {
		s, err := audit.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), name+".db"), audit.Options{Node: name, IndexKey: testIndexKey})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[name] = s
		return NewAuditStore(s, time.Hour)
	})
	return n, stores
}
