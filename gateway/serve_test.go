package gateway

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestServeListensAndStops(t *testing.T) {
	n := newNetwork(t)
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	addrs := map[string]string{}
	done := make(chan error, 1)
	go func() {
		done <- n.prov.g.Serve(ctx, Listeners{
			PD: "127.0.0.1:0", PA: "127.0.0.1:0", Admin: "127.0.0.1:0",
			Listening: func(name, addr string) { mu.Lock(); addrs[name] = addr; mu.Unlock() },
		})
	}()
	waitFor(t, "three listeners", func() bool { mu.Lock(); defer mu.Unlock(); return len(addrs) == 3 })
	resp, err := http.Get("http://" + addrs["admin"] + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok\n" {
		t.Errorf("healthz: %d %q", resp.StatusCode, b)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve returned %v after a clean stop", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not stop")
	}
	if _, err := http.Get("http://" + addrs["admin"] + "/healthz"); err == nil {
		t.Error("admin listener still answers after the stop")
	}
}

func TestServeReportsBusyAddress(t *testing.T) {
	n := newNetwork(t)
	addr := n.prov.pd.Listener.Addr().String()
	err := n.prov.g.Serve(context.Background(), Listeners{PD: addr})
	if err == nil {
		t.Fatal("Serve on a busy address succeeded")
	}
}
