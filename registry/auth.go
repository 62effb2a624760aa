package registry

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Password hashes are written "pbkdf2-sha256$ITERATIONS$SALT$KEY" with SALT and KEY in unpadded
// standard base64: PBKDF2-HMAC-SHA256 from the standard library, so that no module is needed.
const (
	hashScheme = "pbkdf2-sha256"
	// HashIterations is the PBKDF2 work factor of new hashes (OWASP's 2023 figure for SHA-256).
	HashIterations = 600_000
	saltLen        = 16
	keyLen         = 32
)

// HashPassword returns a salted PBKDF2-SHA256 hash of password for an application's password_hash,
// with salt read from random (crypto/rand.Reader in production).
func HashPassword(password string, random io.Reader) (string, error) {
	if password == "" {
		return "", errors.New("hash password: empty password")
	}
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(random, salt); err != nil {
		return "", fmt.Errorf("hash password: read salt: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, HashIterations, keyLen)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("%s$%d$%s$%s", hashScheme, HashIterations, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

type passwordHash struct {
	iter      int
	salt, key []byte
}

func parseHash(s string) (*passwordHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 4 || parts[0] != hashScheme {
		return nil, fmt.Errorf("not of the form %s$ITERATIONS$SALT$KEY", hashScheme)
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 10_000 {
		return nil, fmt.Errorf("iterations %q must be a number >= 10000", parts[1])
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[2])
	if err != nil || len(salt) < 8 {
		return nil, errors.New("salt must be at least 8 bytes of unpadded base64")
	}
	key, err := enc.DecodeString(parts[3])
	if err != nil || len(key) < 16 {
		return nil, errors.New("key must be at least 16 bytes of unpadded base64")
	}
	return &passwordHash{iter: iter, salt: salt, key: key}, nil
}

// VerifyPassword reports whether password matches a hash made by HashPassword.
func VerifyPassword(hash, password string) (bool, error) {
	h, err := parseHash(hash)
	if err != nil {
		return false, err
	}
	key, err := pbkdf2.Key(sha256.New, password, h.salt, h.iter, len(h.key))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// Credentials are what a local application presented to the Porta Delegata: HTTP Basic, a verified
// TLS client certificate, or both.
type Credentials struct {
	Username, Password string
	HasBasic           bool
	Cert               *x509.Certificate // the leaf of a verified TLS client chain, or nil
}

// CredentialsFromRequest extracts the HTTP Basic credentials and the TLS client certificate of r.
// The certificate is only as trustworthy as the listener's TLS verification: a PD listener that
// accepts client certificates must verify them (tls.RequireAndVerifyClientCert with a CA pool) or
// applications must be pinned by fingerprint.
func CredentialsFromRequest(r *http.Request) Credentials {
	var c Credentials
	c.Username, c.Password, c.HasBasic = r.BasicAuth()
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		c.Cert = r.TLS.PeerCertificates[0]
	}
	return c
}

// Authentication errors of AuthenticateApplication; the returned error wraps one of them.
var (
	ErrNoCredentials = errors.New("no credentials: send HTTP Basic or a TLS client certificate")
	ErrUnknownUser   = errors.New("unknown application")
	ErrBadPassword   = errors.New("wrong password")
	ErrUnknownCert   = errors.New("client certificate not registered for any application")
	ErrCredsDisagree = errors.New("HTTP Basic user and client certificate belong to different applications")
)

// decoyHash is the hash an unknown user's password is checked against, so that refusing an
// unknown user costs the PBKDF2 work of refusing a known one with a wrong password and the time
// of the answer does not tell which user names exist. It has the largest work factor among the
// registry's applications (HashIterations when there are none), a fixed salt and a random key no
// password is expected to match (a chance of 2^-256). Building it costs no PBKDF2: the first
// unknown user pays what every later one pays.
func (r *Registry) decoyHash() *passwordHash {
	r.decoyOnce.Do(func() {
		iter := 0
		for _, a := range r.appList {
			if h, err := parseHash(a.passwordHash); err == nil && h.iter > iter {
				iter = h.iter
			}
		}
		if iter == 0 {
			iter = HashIterations
		}
		key := make([]byte, keyLen)
		_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24)
		r.decoy = &passwordHash{iter: iter, salt: []byte("porta-decoy-salt"), key: key}
	})
	return r.decoy
}

// verifyDecoy does the work of VerifyPassword against the decoy hash and reports nothing.
func (r *Registry) verifyDecoy(password string) {
	h := r.decoyHash()
	key, err := pbkdf2.Key(sha256.New, password, h.salt, h.iter, len(h.key))
	if err == nil {
		_ = subtle.ConstantTimeCompare(key, h.key)
	}
}

// Verified reports whether c's HTTP Basic credentials were checked and accepted before by this
// Registry: accepting them again costs no PBKDF2 work. The gateway lets such credentials through
// when the application is being guessed at from elsewhere (its authentication throttle), so that
// the application's own calls are not refused with the guesses.
func (r *Registry) Verified(c Credentials) bool {
	if !c.HasBasic {
		return false
	}
	v, ok := r.verified.Load(authCacheKey{c.Username, sha256.Sum256([]byte(c.Password))})
	if !ok {
		return false
	}
	pc := v.(*passwordCheck)
	select {
	case <-pc.done:
		return pc.err == nil
	default:
		return false
	}
}

// authCacheKey identifies Basic credentials already verified, so that the PBKDF2 cost is paid once
// per application and password rather than on every request. The key holds a SHA-256 of the
// password, never the password.
type authCacheKey struct {
	user string
	sum  [32]byte
}

// passwordCheck is one PBKDF2 verification of a Basic credential. Concurrent requests with the
// same credentials wait for the first one's check instead of each paying its cost; a successful
// check stays in the cache, a failed one is removed so the next attempt is checked afresh.
type passwordCheck struct {
	done chan struct{}
	err  error
}

func (r *Registry) checkPassword(k authCacheKey, a *Application, password string) error {
	if err := checkOnce(&r.verified, k, a.passwordHash, password); err != nil {
		return fmt.Errorf("application %s: %w", a.Name, err)
	}
	return nil
}

// checkOnce verifies password against hash once per key of m: a success stays in m, concurrent
// checks of the same key wait for the first one's, and a failure (ErrBadPassword, or the hash's
// error) is removed so the next attempt is checked afresh.
func checkOnce[K comparable](m *sync.Map, k K, hash, password string) error {
	fresh := &passwordCheck{done: make(chan struct{})}
	v, loaded := m.LoadOrStore(k, fresh)
	pc := v.(*passwordCheck)
	if loaded {
		<-pc.done
		return pc.err
	}
	good, err := VerifyPassword(hash, password)
	switch {
	case err != nil:
		pc.err = err
	case !good:
		pc.err = ErrBadPassword
	}
	if pc.err != nil {
		m.Delete(k)
	}
	close(pc.done)
	return pc.err
}

// PasswordCache is the PBKDF2 check of a Registry's applications for other holders of password
// hashes (the operators of package ops): a (name, hash, password) that verified is remembered by
// its SHA-256, so a caller of HTTP Basic pays PBKDF2's cost once, not per request, and concurrent
// checks of the same credentials share one. A changed password or hash misses the cache. The zero
// value is ready to use.
type PasswordCache struct{ m sync.Map }

// Check reports whether password matches hash (a password_hash of HashPassword's form); err is
// only for a hash that cannot be read.
func (c *PasswordCache) Check(name, hash, password string) (bool, error) {
	h := sha256.New()
	for _, s := range []string{name, hash, password} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	var k [32]byte
	h.Sum(k[:0])
	switch err := checkOnce(&c.m, k, hash, password); {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrBadPassword):
		return false, nil
	default:
		return false, err
	}
}

// AuthenticateApplication returns the application that presented c. With HTTP Basic the password
// is checked against the application's hash (successful checks are remembered for the life of this
// Registry); with a certificate, the application is found by SHA-256 fingerprint, then by subject.
// When both are present they must name the same application.
func (r *Registry) AuthenticateApplication(c Credentials) (*Application, error) {
	var byBasic, byCert *Application
	if c.HasBasic {
		a, ok := r.byUser[c.Username]
		if !ok {
			// The PBKDF2 work a wrong password costs (see decoyHash).
			r.verifyDecoy(c.Password)
			return nil, fmt.Errorf("application user %q: %w", c.Username, ErrUnknownUser)
		}
		k := authCacheKey{c.Username, sha256.Sum256([]byte(c.Password))}
		if err := r.checkPassword(k, a, c.Password); err != nil {
			return nil, err
		}
		byBasic = a
	}
	if c.Cert != nil {
		a, ok := r.byFP[Fingerprint(c.Cert)]
		if !ok {
			a, ok = r.bySubject[c.Cert.Subject.String()]
		}
		if !ok && byBasic == nil {
			return nil, fmt.Errorf("certificate %q (sha256 %s): %w", c.Cert.Subject.String(), Fingerprint(c.Cert), ErrUnknownCert)
		}
		byCert = a
	}
	switch {
	case byBasic != nil && byCert != nil && byBasic != byCert:
		return nil, fmt.Errorf("user %q is %s, certificate is %s: %w", c.Username, byBasic.Name, byCert.Name, ErrCredsDisagree)
	case byBasic != nil:
		return byBasic, nil
	case byCert != nil:
		return byCert, nil
	}
	return nil, ErrNoCredentials
}
