package document

import (
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"porta/adapters/sil"
)

type rejectAll struct{}

func (rejectAll) Validate(schema string, doc []byte) error { return errors.New("not valid") }

type acceptAll struct{}

func (acceptAll) Validate(schema string, doc []byte) error { return nil }

type root struct {
	XMLName xml.Name `xml:"r"`
	V       string   `xml:"v"`
}

func TestMarshal(t *testing.T) {
	w := &sil.Worker{ID: "7", CodiceFiscale: "RSSMRA77L18H501W"}
	out, err := Marshal(w, acceptAll{}, "labour/x.xsd", "x", root{V: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if want := xml.Header + "<r>\n  <v>a</v>\n</r>\n"; string(out) != want {
		t.Errorf("got %q, want %q", out, want)
	}
	_, err = Marshal(w, rejectAll{}, "labour/x.xsd", "x", root{})
	var re *sil.RecordError
	if !errors.As(err, &re) || re.CF != w.CodiceFiscale || re.Rule != "schema labour/x.xsd" {
		t.Errorf("a schema violation: got %v, want the worker's RecordError", err)
	}
	if _, err := Marshal(w, nil, "labour/x.xsd", "x", root{}); err == nil || !strings.Contains(err.Error(), "no validator") {
		t.Errorf("no validator: got %v", err)
	}
}

func TestBatchGoesOnPastRejections(t *testing.T) {
	ws := []*sil.Worker{{ID: "1", CodiceFiscale: "A"}, {ID: "2", CodiceFiscale: "B"}, {ID: "3", CodiceFiscale: "C"}}
	docs, rejected := Batch(ws, func(w *sil.Worker) ([]byte, error) {
		if w.ID == "2" {
			return nil, w.Reject("f", "rule", nil)
		}
		return []byte(w.ID), nil
	})
	if len(docs) != 2 || docs[0].CF != "A" || docs[0].SILID != "1" || string(docs[0].XML) != "1" || docs[1].CF != "C" {
		t.Errorf("docs = %+v", docs)
	}
	if len(rejected) != 1 || rejected[0].SILID != "2" {
		t.Errorf("rejected = %+v", rejected)
	}
}
