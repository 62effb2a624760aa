package audit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Operators: the people who use the management API (package ops decides what each role may do;
// the store only keeps them). Only a password hash is stored, in registry.HashPassword's format.

// Operator is a person with access to the management API.
type Operator struct {
	Name         string    `json:"name"`
	Role         string    `json:"role"` // viewer, operator or admin
	PasswordHash string    `json:"-"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
}

// ErrNoOperator is returned (wrapped) for an operator the store does not know.
var ErrNoOperator = errors.New("no such operator")

// PutOperator adds the operator or replaces its role and hash (Created is kept).
func (s *Store) PutOperator(ctx context.Context, op *Operator) error {
	if op.Name == "" || op.Role == "" || op.PasswordHash == "" {
		return fmt.Errorf("operator %q: want a name, a role and a password hash", op.Name)
	}
	now := micros(s.now())
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO operator (name, role, password_hash, created, updated) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash, updated = excluded.updated`),
		op.Name, op.Role, op.PasswordHash, now, now)
	if err != nil {
		return fmt.Errorf("operator %q: %w", op.Name, err)
	}
	return nil
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
	rows, err := s.db.QueryxContext(ctx, s.q(`SELECT name, role, password_hash, created, updated FROM operator`+where), args...)
	if err != nil {
		return nil, fmt.Errorf("operators: %w", err)
	}
	defer rows.Close()
	var out []*Operator
	for rows.Next() {
		var op Operator
		var created, updated int64
		if err := rows.Scan(&op.Name, &op.Role, &op.PasswordHash, &created, &updated); err != nil {
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
