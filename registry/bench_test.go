package registry

import (
	"path/filepath"
	"testing"
)

func BenchmarkLoadFull(b *testing.B) {
	for b.Loop() {
		if _, err := Load(filepath.Join("..", "testdata", "registry", "full.yaml"), at2030); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookups(b *testing.B) {
	r, err := Load(filepath.Join("..", "testdata", "registry", "full.yaml"), at2030)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Service+MayConsume+Delivery", func(b *testing.B) {
		for b.Loop() {
			s, ok := r.Service("Provincia", "SAPNotifica")
			if !ok || !r.MayConsume("Ministero", s.Provider, s.Name) || !r.Hosted("Provincia") {
				b.Fatal("lookup failed")
			}
			if _, ok := r.Delivery(s.Provider, s.Name); !ok {
				b.Fatal("no delivery")
			}
		}
	})
	b.Run("AuthenticateBasic/cached", func(b *testing.B) {
		c := Credentials{Username: "sil", Password: "sil-password", HasBasic: true}
		r.AuthenticateApplication(c)
		for b.Loop() {
			if _, err := r.AuthenticateApplication(c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("VerifyPassword/600k-iterations", func(b *testing.B) {
		a, _ := r.Application("SIL")
		for b.Loop() {
			if ok, _ := VerifyPassword(a.passwordHash, "sil-password"); !ok {
				b.Fatal("no match")
			}
		}
	})
}
