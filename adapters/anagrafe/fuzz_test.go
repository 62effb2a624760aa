package anagrafe

import (
	"context"
	"errors"
	"testing"
)

// FuzzHandle: the municipality's service must never panic; it answers a RispostaE002OK or a
// *FaultError carrying a rispostaKO, and nothing else, for any payload.
func FuzzHandle(f *testing.F) {
	req, _ := BuildRequest(request("RSSMRA77L18H501W"))
	f.Add(req)
	f.Add([]byte(`<RichiestaE002 xmlns="` + Namespace + `"><criteriRicerca><codiceFiscale>X</codiceFiscale></criteriRicerca></RichiestaE002>`))
	svc := newService(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := svc.Handle(context.Background(), data)
		var fe *FaultError
		switch {
		case err == nil && len(resp) == 0:
			t.Fatal("no answer and no error")
		case err != nil && !errors.As(err, &fe):
			t.Fatalf("untyped error %v", err)
		case fe != nil && len(fe.Detail) == 0:
			t.Fatal("a fault without its rispostaKO")
		}
	})
}

// FuzzParseResponse: the province's reader of a registry answer must never panic, and every
// subject it accepts has a codice fiscale that passes the check.
func FuzzParseResponse(f *testing.F) {
	for _, s := range subjects() {
		b, _ := BuildResponse("A", "B", now, s)
		f.Add(b)
	}
	ko, _ := BuildFault("A", "B", now, Problem{Code: CodeNotFound, Text: "x"})
	f.Add(ko)
	f.Fuzz(func(t *testing.T, data []byte) {
		subs, err := ParseResponse(data)
		if err != nil {
			return
		}
		for _, s := range subs {
			if s.CodiceFiscale == "" || s.DataNascita.IsZero() {
				t.Fatalf("accepted %+v", s)
			}
		}
	})
}
