package audit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Filter selects records for List. Zero fields do not filter.
type Filter struct {
	From, To  time.Time // Recorded in [From, To)
	Party     string    // sender or receiver
	Service   string
	Action    string
	ID        string // Identificatore, RiferimentoMessaggio, Collaborazione or transaction
	Outcome   string
	Direction Direction
	Node      string
	Limit     int // default 100, at most 10000
	// Before continues a listing: only records older than this one (its Recorded, Node and Seq)
	// are returned.
	Before *Record
}

// listColumns are the columns List returns: everything but the envelope bytes.
const listColumns = `node, seq, tx, direction, function, msg_id, relates_to, conversation, sender, receiver,
	service, action, profile, busta_time, recorded, outcome, exceptions, http_status, peer, signer,
	payload_hash, payload_size, '' AS header, body_mode, '' AS raw, raw_hash, detail, prev_hash, hash,
	client_subject, client_cert, application, reason, raw_size`

// List returns the records matching f, newest first. Header and Raw are left empty (Show or
// Get return them).
func (s *Store) List(ctx context.Context, f Filter) ([]*Record, error) {
	where, args := f.conditions()
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if b := f.Before; b != nil {
		r := micros(b.Recorded)
		add("(recorded < ? OR (recorded = ? AND (node < ? OR (node = ? AND seq < ?))))", r, r, b.Node, b.Node, b.Seq)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > 10000 {
		limit = 10000
	}
	const order = ` ORDER BY recorded DESC, node DESC, seq DESC LIMIT ?`
	branch := func(extra string) string {
		w := append(append([]string{}, where...), extra)
		if extra == "" {
			w = w[:len(w)-1]
		}
		q := `SELECT ` + listColumns + ` FROM trace`
		if len(w) > 0 {
			q += ` WHERE ` + strings.Join(w, " AND ")
		}
		return q + order
	}
	if f.Party == "" {
		return s.records(ctx, branch(""), append(args, limit)...)
	}
	// A party is a sender or a receiver: two branches, each walking its (party, recorded) index
	// newest first and stopping at limit, merged; an OR would sort every record of the party.
	q := `SELECT * FROM (` + branch("sender = ?") + `) AS a UNION ALL SELECT * FROM (` + branch("receiver = ? AND sender <> ?") + `) AS b` + order
	all := append(append(append([]any{}, args...), f.Party, limit), args...)
	all = append(all, f.Party, f.Party, limit, limit)
	return s.records(ctx, q, all...)
}

// conditions are f's SQL conditions on the trace table and their arguments, all but Party,
// Limit and Before.
func (f Filter) conditions() ([]string, []any) {
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if !f.From.IsZero() {
		add("recorded >= ?", micros(f.From))
	}
	if !f.To.IsZero() {
		add("recorded < ?", micros(f.To))
	}
	if f.Service != "" {
		add("service = ?", f.Service)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.ID != "" {
		// msg_id, relates_to, conversation or tx is f.ID, with the partial indexes' conditions.
		add("(msg_id = ? OR "+partialRelates+"relates_to = ? OR "+partialConversation+"conversation = ? OR "+partialTx+"tx = ?)", f.ID, f.ID, f.ID, f.ID)
	}
	if f.Outcome != "" {
		add("outcome = ?", f.Outcome)
	}
	if f.Direction != "" {
		add("direction = ?", string(f.Direction))
	}
	if f.Node != "" {
		add("node = ?", f.Node)
	}
	return where, args
}

// MessageIDs returns the distinct Identificatori of the records matching f, in no order and
// without a limit (f.Limit and f.Before do not apply): for instance every busta a gateway sent
// to a party's service, Filter{Direction: Out, Party: "Ministero", Service: "SAP"}.
func (s *Store) MessageIDs(ctx context.Context, f Filter) ([]string, error) {
	return s.distinct(ctx, "msg_id", f)
}

// RelatedIDs returns the distinct RiferimentoMessaggio of the records matching f that carry one,
// in no order and without a limit (f.Limit and f.Before do not apply): for instance the bustas a
// gateway holds an answer or a riscontro for, Filter{Direction: In, Outcome: "received"}.
func (s *Store) RelatedIDs(ctx context.Context, f Filter) ([]string, error) {
	return s.distinct(ctx, "relates_to", f, "relates_to <> ''")
}

// distinct returns the distinct values of column (a constant of this package) over the records
// matching f and the extra conditions.
func (s *Store) distinct(ctx context.Context, column string, f Filter, extra ...string) ([]string, error) {
	where, args := f.conditions()
	where = append(where, extra...)
	if f.Party != "" {
		where = append(where, "(sender = ? OR receiver = ?)")
		args = append(args, f.Party, f.Party)
	}
	q := `SELECT DISTINCT ` + column + ` FROM trace`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	var out []string
	if err := s.db.SelectContext(ctx, &out, s.q(q), args...); err != nil {
		return nil, fmt.Errorf("audit query: %w", err)
	}
	return out, nil
}

func (s *Store) records(ctx context.Context, q string, args ...any) ([]*Record, error) {
	rows, err := s.db.QueryxContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("audit query: %w", err)
	}
	defer rows.Close()
	var out []*Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("audit query: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit query: %w", err)
	}
	return out, nil
}

// The conditions of the partial indexes on relates_to, conversation and tx (migration 00002),
// each followed by AND: a query must state them to use the index. A record left out of an index
// has the value in msg_id or relates_to, so a query for a value in any of the columns asks for it
// in msg_id and relates_to too and finds it there.
const (
	partialRelates      = `relates_to <> '' AND `
	partialConversation = `conversation <> '' AND conversation <> msg_id AND conversation <> relates_to AND `
	partialTx           = `tx <> msg_id AND tx <> relates_to AND `
)

// ErrNotFound is returned (wrapped) when no record matches.
var ErrNotFound = errors.New("no such record")

// Get returns the record at seq of node's chain.
func (s *Store) Get(ctx context.Context, node string, seq int64) (*Record, error) {
	rs, err := s.records(ctx, `SELECT `+traceColumns+` FROM trace WHERE node = ? AND seq = ?`, node, seq)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("record %s/%d: %w", node, seq, ErrNotFound)
	}
	return rs[0], nil
}

// Lookup returns the latest record of a busta by ID and direction ("" for either), or nil.
func (s *Store) Lookup(ctx context.Context, id string, dir Direction) (*Record, error) {
	q := `SELECT ` + traceColumns + ` FROM trace WHERE msg_id = ?`
	args := []any{id}
	if dir != "" {
		q += ` AND direction = ?`
		args = append(args, string(dir))
	}
	rs, err := s.records(ctx, q+` ORDER BY recorded DESC, seq DESC LIMIT 1`, args...)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return rs[0], nil
}

// Exchange is a record with the records of the exchange it belongs to: those sharing its
// Identificatore, RiferimentoMessaggio or Collaborazione (in either role), oldest first.
type Exchange struct {
	Record   *Record   `json:"record"`
	Exchange []*Record `json:"exchange"`
}

// Show finds a record by busta ID, transaction id, or "node/seq", the latest when several match,
// and returns it with its exchange (at most 1000 records).
func (s *Store) Show(ctx context.Context, key string) (*Exchange, error) {
	var r *Record
	var err error
	if node, seq, ok := strings.Cut(key, "/"); ok {
		if n, perr := strconv.ParseInt(seq, 10, 64); perr == nil {
			if r, err = s.Get(ctx, node, n); err != nil && !errors.Is(err, ErrNotFound) {
				return nil, err
			}
		}
	}
	if r == nil {
		if r, err = s.Lookup(ctx, key, ""); err != nil {
			return nil, err
		}
	}
	if r == nil {
		// tx = key, where no msg_id is key (Lookup found none): with the partial index's condition.
		rs, err := s.records(ctx, `SELECT `+traceColumns+` FROM trace WHERE (`+partialTx+`tx = ?) OR (`+partialRelates+`relates_to = ? AND tx = ?)
			ORDER BY recorded DESC, seq DESC LIMIT 1`, key, key, key)
		if err != nil {
			return nil, err
		}
		if len(rs) > 0 {
			r = rs[0]
		}
	}
	if r == nil {
		return nil, fmt.Errorf("show %q: %w (looked for a busta ID, a transaction and node/seq)", key, ErrNotFound)
	}
	keys := []any{r.ID}
	for _, k := range []string{r.RelatesTo, r.Conversation} {
		if k != "" && k != r.ID {
			keys = append(keys, k)
		}
	}
	in := strings.TrimSuffix(strings.Repeat("?, ", len(keys)), ", ")
	args := append(append(append([]any{}, keys...), keys...), keys...)
	ex, err := s.records(ctx, `SELECT `+traceColumns+` FROM trace WHERE msg_id IN (`+in+`)
		OR (`+partialRelates+`relates_to IN (`+in+`)) OR (`+partialConversation+`conversation IN (`+in+`))
		ORDER BY recorded, node, seq LIMIT 1000`, args...)
	if err != nil {
		return nil, err
	}
	return &Exchange{Record: r, Exchange: ex}, nil
}
