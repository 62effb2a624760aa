package audit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Operators: the people who use the management API (package ops decides what each role may do;
// the store only keeps them). Only a password hash is stored, in registry.HashPassword's format,
// and the SHA-256 fingerprint of an operator's TLS client certificate (registry.Fingerprint).

// Operator is a person with access to the management API.
type Operator struct {
	Name         string    `json:"name"`
	Role         string    `json:"role"`                  // viewer, operator or admin
	PasswordHash string    `json:"-"`                     // "": no password (a certificate only)
	CertSHA256   string    `json:"cert_sha256,omitempty"` // the client certificate's fingerprint; "": none
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
}

// ErrNoOperator is returned (wrapped) for an operator the store does not know.
var ErrNoOperator = errors.New("no such operator")

// ErrCertTaken is returned (wrapped) by PutOperator for a certificate another operator has.
var ErrCertTaken = errors.New("the certificate belongs to another operator")

// PutOperator adds the operator or replaces its role, hash and certificate (Created is kept). It
// needs a password hash, a certificate fingerprint or both; a certificate names one operator.
func (s *Store) PutOperator(ctx context.Context, op *Operator) error {
	if op.Name == "" || op.Role == "" || (op.PasswordHash == "" && op.CertSHA256 == "") {
		return fmt.Errorf("operator %q: want a name, a role and a password hash or a certificate fingerprint", op.Name)
	}
	if op.CertSHA256 != "" {
		other, err := s.OperatorByCert(ctx, op.CertSHA256)
		if err != nil && !errors.Is(err, ErrNoOperator) {
			return err
		}
		if other != nil && other.Name != op.Name {
			return fmt.Errorf("operator %q: certificate %s: %w, %q", op.Name, op.CertSHA256, ErrCertTaken, other.Name)
		}
	}
	now := micros(s.now())
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO operator (name, role, password_hash, cert_sha256, created, updated) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash, cert_sha256 = excluded.cert_sha256, updated = excluded.updated`),
		op.Name, op.Role, op.PasswordHash, op.CertSHA256, now, now)
	if err != nil {
		return fmt.Errorf("operator %q: %w", op.Name, err)
	}
	return nil
}

// OperatorByCert returns the operator whose client certificate has the SHA-256 fingerprint fp
// (lower-case hex, registry.Fingerprint); ErrNoOperator if there is none.
func (s *Store) OperatorByCert(ctx context.Context, fp string) (*Operator, error) {
	if fp == "" {
		return nil, fmt.Errorf("certificate with no fingerprint: %w", ErrNoOperator)
	}
	ops, err := s.operators(ctx, ` WHERE cert_sha256 = ?`, fp)
	if err != nil {
		return nil, err
	}
	if len(ops) == 0 {
		return nil, fmt.Errorf("certificate %s: %w", fp, ErrNoOperator)
	}
	return ops[0], nil
}

// RemoveOperator deletes the operator; ErrNoOperator if there is none of that name.
func (s *Store) RemoveOperator(ctx context.Context, name string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM operator WHERE name = ?`), name)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = ErrNoOperator
		}
	}
	if err != nil {
		return fmt.Errorf("remove operator %q: %w", name, err)
	}
	return nil
}

// GetOperator returns the operator of that name; ErrNoOperator if there is none.
func (s *Store) GetOperator(ctx context.Context, name string) (*Operator, error) {
	ops, err := s.operators(ctx, ` WHERE name = ?`, name)
	if err != nil {
		return nil, err
	}
	if len(ops) == 0 {
		return nil, fmt.Errorf("operator %q: %w", name, ErrNoOperator)
	}
	return ops[0], nil
}

// Operators returns every operator, by name.
func (s *Store) Operators(ctx context.Context) ([]*Operator, error) {
	return s.operators(ctx, ` ORDER BY name`)
}

func (s *Store) operators(ctx context.Context, where string, args ...any) ([]*Operator, error) {
	rows, err := s.db.QueryxContext(ctx, s.q(`SELECT name, role, password_hash, cert_sha256, created, updated FROM operator`+where), args...)
	if err != nil {
		return nil, fmt.Errorf("operators: %w", err)
	}
	defer rows.Close()
	var out []*Operator
	for rows.Next() {
		var op Operator
		var created, updated int64
		if err := rows.Scan(&op.Name, &op.Role, &op.PasswordHash, &op.CertSHA256, &created, &updated); err != nil {
			return nil, fmt.Errorf("operators: %w", err)
		}
		op.Created, op.Updated = fromMicros(created), fromMicros(updated)
		out = append(out, &op)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("operators: %w", err)
	}
	return out, nil
}
