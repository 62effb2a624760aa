package formazione

import (
	"context"
	"errors"
	"testing"
)

// FuzzHandle: the catalogue service must never panic on any payload, and answers either a
// document or a typed error.
func FuzzHandle(f *testing.F) {
	pub, _ := BuildPublish(sample())
	f.Add(pub)
	w, _ := BuildWithdraw("A944S003140", "SALD-2026-01", "x")
	f.Add(w)
	q, _ := BuildSearch(Query{Keyword: "x", Limit: 3})
	f.Add(q)
	f.Fuzz(func(t *testing.T, data []byte) {
		svc := &Service{Catalog: &memCatalog{courses: map[string]Course{}, gone: map[string]bool{}}}
		resp, err := svc.Handle(context.Background(), data)
		var fe *FieldError
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("untyped error %v", err)
		}
		if err == nil && len(resp) == 0 {
			t.Fatal("no answer and no error")
		}
	})
}
