package registry

import (
	"crypto/rand"
	"errors"
	"sync"
	"testing"
)

// Many first logins at once must cost one PBKDF2 check, and a wrong password must not be cached.
func TestCheckPasswordConcurrentFirstLogins(t *testing.T) {
	hash, err := HashPassword("s3cret", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r := &Registry{}
	a := &Application{Name: "sil", passwordHash: hash}
	k := authCacheKey{"sil", [32]byte{1}}
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = r.checkPassword(k, a, "s3cret")
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	bad := authCacheKey{"sil", [32]byte{2}}
	for i := 0; i < 2; i++ {
		if err := r.checkPassword(bad, a, "wrong"); !errors.Is(err, ErrBadPassword) {
			t.Fatalf("wrong password, attempt %d: %v", i+1, err)
		}
	}
	if _, cached := r.verified.Load(bad); cached {
		t.Fatal("a failed check stayed in the cache")
	}
}

// An unknown user's password is checked against a decoy of the registry's largest work factor,
// and Verified knows only credentials that were accepted.
func TestDecoyAndVerified(t *testing.T) {
	hash, err := HashPassword("s3cret", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	a := &Application{Name: "sil", Username: "sil", passwordHash: hash}
	r := &Registry{byUser: map[string]*Application{"sil": a}, appList: []*Application{a}}
	if got := r.decoyHash().iter; got != HashIterations {
		t.Errorf("decoy iterations %d, want the applications' %d", got, HashIterations)
	}
	right := Credentials{Username: "sil", Password: "s3cret", HasBasic: true}
	wrong := Credentials{Username: "sil", Password: "guess", HasBasic: true}
	if r.Verified(right) {
		t.Error("Verified before any check")
	}
	if _, err := r.AuthenticateApplication(wrong); !errors.Is(err, ErrBadPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := r.AuthenticateApplication(right); err != nil {
		t.Fatal(err)
	}
	if !r.Verified(right) || r.Verified(wrong) || r.Verified(Credentials{Username: "nobody", Password: "s3cret", HasBasic: true}) {
		t.Errorf("Verified: right %v, wrong %v", r.Verified(right), r.Verified(wrong))
	}
	if _, err := r.AuthenticateApplication(Credentials{Username: "nobody", Password: "x", HasBasic: true}); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("unknown user: %v", err)
	}
}
