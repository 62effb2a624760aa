package pdclient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// CallOnce sends its key and tries again when the answer was lost (the connection dropped) or
// the PD says the request under the key is still under way; a conflict is returned at once.
func TestCallOnceRetriesUnderTheSameKey(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		n := len(keys)
		mu.Unlock()
		switch n {
		case 1: // the gateway died after its commit: no answer
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
		case 2:
			w.Header().Set("Porta-Error-Reason", "idempotency-pending")
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", contentTypeSOAP)
			w.WriteHeader(http.StatusConflict)
			w.Write([]byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Server</faultcode><faultstring>still waiting</faultstring></s:Fault></s:Body></s:Envelope>`))
		default:
			w.Header().Set("Porta-Message-ID", "Provincia_ProvinciaSPCoopIT_0000001_2026-12-03_10:00")
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer srv.Close()
	pd := &PD{URL: srv.URL, Consumer: "Provincia", RetryWait: 10 * time.Millisecond}
	rep, err := pd.CallOnce(context.Background(), Route{"Ministero", "SAP", "invioSAP"}, []byte("<a/>"), "sil/sap/1")
	if err != nil || rep.MessageID != "Provincia_ProvinciaSPCoopIT_0000001_2026-12-03_10:00" {
		t.Fatalf("CallOnce = %+v, %v", rep, err)
	}
	if len(keys) != 3 || keys[0] != "sil/sap/1" || keys[1] != keys[0] || keys[2] != keys[0] {
		t.Errorf("keys sent %q, want sil/sap/1 three times", keys)
	}

	conflict := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Porta-Error-Reason", "idempotency-conflict")
		w.WriteHeader(http.StatusConflict)
		w.Write([]byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>Idempotency-Key "k" was used for another request</faultstring></s:Fault></s:Body></s:Envelope>`))
	}))
	defer conflict.Close()
	pd.URL = conflict.URL
	_, err = pd.CallOnce(context.Background(), Route{"Ministero", "SAP", "invioSAP"}, []byte("<a/>"), "k")
	var fe *FaultError
	if !errors.As(err, &fe) || fe.Reason != "idempotency-conflict" || fe.Status != http.StatusConflict || fe.RecordFault() {
		t.Errorf("conflict: %v, want a FaultError with reason idempotency-conflict that is not the record's", err)
	}
}
