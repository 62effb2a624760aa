// Package backends owns the built-in backends of the labour network's gateways, the ones a
// registry delivery names as "adapter:NAME": each keeps its data in one SQLite file next to
// porta.yaml (backends.db), so a gateway started by porta serve, porta sim or porta demo serves and
// keeps the same things. Data opens that file with every store in it; Backends gives the
// gateway.Backend of each adapter name; ForConfig does both for a porta.yaml.
//
// It must not know how a gateway is configured or started (that is gateway/node and cmd/porta),
// nor drive any flow: it only answers what is delivered to it.
package backends

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"

	"porta/adapters/anagrafe"
	"porta/adapters/formazione"
	"porta/adapters/inps"
	"porta/adapters/labour"
	"porta/adapters/merge"
	"porta/adapters/scuola"
	"porta/gateway"
	"porta/xsd"
)

// The built-in backends, by adapter name:
//
//	anagrafe       a municipality's registry answering E002 consultations (package anagrafe)
//	scuola         a school's attendance extractions (package scuola); idEstrazione is
//	               scuola.ExtractionID of the request busta's Identificatore, so the consumer can poll with what its PD returned
//	inps           the province receiving INPS lists, merged into the provincial store
//	formazione     the province's training catalogue (publish, withdraw, search)
//
// and, for each worker document of adapters/labour's table, its provider's intake under the
// service's adapter name (e.g. ministerosap): it checks the document as the table says, keeps it,
// and answers as the table's simulated provider does.

// Data is what a gateway's built-in backends share: their database and stores.
type Data struct {
	DB       *sqlx.DB
	Anagrafe *anagrafe.Registry
	Scuola   *scuola.Attendance
	Merge    *merge.Store
	Kept     *Keeper
	schemas  *xsd.Set
}

// Open opens (creating) the backends' database at path and every store in it. Its
// transactions take the write lock as they begin (_txlock=immediate): one that read first and
// wrote later could otherwise fail at once (SQLITE_BUSY) beside another writer, instead of
// waiting its turn.
func Open(ctx context.Context, path string, now func() time.Time) (*Data, error) {
	db, err := sqlx.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=10000&_foreign_keys=on&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	d := &Data{DB: db}
	fail := func(err error) (*Data, error) {
		d.Close()
		return nil, fmt.Errorf("backends %s: %w", path, err)
	}
	if d.Anagrafe, err = anagrafe.OpenRegistry(ctx, db); err != nil {
		return fail(err)
	}
	if d.Scuola, err = scuola.OpenAttendance(ctx, db); err != nil {
		return fail(err)
	}
	if d.Merge, err = merge.Open(ctx, db, merge.Options{Now: now}); err != nil {
		return fail(err)
	}
	if d.schemas, err = xsd.Open(); err != nil {
		return fail(err)
	}
	if d.Kept, err = openKeeper(ctx, db, d.schemas, now); err != nil {
		return fail(err)
	}
	return d, nil
}

// Close closes the database and the schema set.
func (d *Data) Close() error {
	var errs []error
	if d.schemas != nil {
		errs = append(errs, d.schemas.Close())
	}
	errs = append(errs, d.DB.Close())
	return errors.Join(errs...)
}

// Backends returns the built-in backends over d, by adapter name.
func (d *Data) Backends(now func() time.Time) map[string]gateway.Backend {
	clientErr := func(err error) bool {
		var fe interface {
			Problem() (string, string, string)
		}
		var af *anagrafe.FaultError
		var sf *scuola.FieldError
		var ff *formazione.FieldError
		var inf *inps.FieldError
		return errors.As(err, &af) || errors.As(err, &sf) || errors.As(err, &ff) || errors.As(err, &inf) || errors.As(err, &fe) || errors.Is(err, errRefused)
	}
	perDelivery := func(h func(d *gateway.Delivery) gateway.PayloadHandler) gateway.Backend {
		return backendFunc(func(ctx context.Context, dl *gateway.Delivery) (*gateway.Reply, error) {
			return (&gateway.HandlerBackend{Handler: h(dl), ClientError: clientErr}).Deliver(ctx, dl)
		})
	}
	out := map[string]gateway.Backend{
		"anagrafe": &gateway.HandlerBackend{Handler: &anagrafe.Service{Registry: d.Anagrafe, Now: now}, ClientError: clientErr},
		"scuola": perDelivery(func(dl *gateway.Delivery) gateway.PayloadHandler {
			id := scuola.ExtractionID(dl.Header.ID)
			return &scuola.Service{Data: d.Scuola, Now: now, NewID: func(string) string { return id }}
		}),
		"inps": perDelivery(func(dl *gateway.Delivery) gateway.PayloadHandler {
			return &inps.Receiver{Source: sender(dl), Sink: d.Merge}
		}),
		"formazione": perDelivery(func(dl *gateway.Delivery) gateway.PayloadHandler {
			return &formazione.Service{Source: sender(dl), Catalog: d.Merge}
		}),
	}
	for _, s := range labour.WorkerDocs() {
		out[s.Adapter] = perDelivery(func(dl *gateway.Delivery) gateway.PayloadHandler { return d.Kept.handler(dl, s) })
	}
	return out
}

// ForConfig opens the backends of the gateway configured by cfgPath (backends.db next to it), for
// porta serve; close the Closer when the gateway has stopped.
func ForConfig(ctx context.Context, cfgPath string) (map[string]gateway.Backend, io.Closer, error) {
	d, err := Open(ctx, filepath.Join(filepath.Dir(cfgPath), "backends.db"), time.Now)
	if err != nil {
		return nil, nil, err
	}
	return d.Backends(time.Now), d, nil
}

type backendFunc func(ctx context.Context, d *gateway.Delivery) (*gateway.Reply, error)

func (f backendFunc) Deliver(ctx context.Context, d *gateway.Delivery) (*gateway.Reply, error) {
	return f(ctx, d)
}

func sender(d *gateway.Delivery) string {
	if d.Header != nil && len(d.Header.Sender) > 0 {
		return d.Header.Sender[0].Name
	}
	return ""
}

var errRefused = errors.New("refused")

// Keeper is the national endpoints' intake: it checks each document it receives, keeps it once
// per busta (Deliver is idempotent on the Identificatore), and answers as the service does.
type Keeper struct {
	db      *sqlx.DB
	schemas *xsd.Set
	now     func() time.Time
}

const keeperSchema = `CREATE TABLE IF NOT EXISTS kept (
	service    TEXT NOT NULL,
	message_id TEXT NOT NULL,
	sender     TEXT NOT NULL,
	record     TEXT NOT NULL,  -- the codice fiscale the document is about, or sha256: of it
	root       TEXT NOT NULL,
	payload    BLOB NOT NULL,
	received   TEXT NOT NULL,
	PRIMARY KEY (service, message_id)
);
CREATE INDEX IF NOT EXISTS kept_record ON kept (service, record);`

func openKeeper(ctx context.Context, db *sqlx.DB, schemas *xsd.Set, now func() time.Time) (*Keeper, error) {
	if _, err := db.ExecContext(ctx, keeperSchema); err != nil {
		return nil, err
	}
	return &Keeper{db: db, schemas: schemas, now: now}, nil
}

type keeperHandler struct {
	k   *Keeper
	d   *gateway.Delivery
	svc *labour.Service
}

func (k *Keeper) handler(d *gateway.Delivery, svc *labour.Service) gateway.PayloadHandler {
	return &keeperHandler{k, d, svc}
}

// Handle checks and keeps one payload and answers it as the service's simulated provider does
// (labour.WorkerDoc.Check and Answer): e.g. risposta_invioSAP with a CodiceSAP, nothing for the
// one-way intakes.
func (h *keeperHandler) Handle(ctx context.Context, payload []byte) ([]byte, error) {
	root, err := rootName(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", errRefused, err)
	}
	// Check and Answer are the worker document's action's; the service's other actions are kept.
	w := h.svc.Worker
	if h.d.Header == nil || h.d.Header.Action != w.Action {
		w = &labour.WorkerDoc{}
	}
	doc := payload
	if check := w.Check; check != nil {
		if doc, err = check(h.k.schemas, payload); err != nil {
			return nil, fmt.Errorf("%w: %v", errRefused, err)
		}
	}
	record := findCF(doc)
	if record == "" {
		sum := sha256.Sum256(doc)
		record = "sha256:" + hex.EncodeToString(sum[:])
	}
	id := ""
	if h.d.Header != nil {
		id = h.d.Header.ID
	}
	_, err = h.k.db.ExecContext(ctx, `INSERT OR IGNORE INTO kept (service, message_id, sender, record, root, payload, received) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		h.svc.Name, id, sender(h.d), record, root, payload, h.k.now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return nil, fmt.Errorf("keep %s %s: %w", h.svc.Name, id, err)
	}
	if w.Answer == nil {
		return nil, nil
	}
	var seq int64
	if err := h.k.db.GetContext(ctx, &seq, `SELECT rowid FROM kept WHERE service = ? AND message_id = ?`, h.svc.Name, id); err != nil {
		return nil, err
	}
	return w.Answer(seq), nil
}

// Kept counts what the keeper holds for service: documents, distinct records, and records kept
// more than once.
func (k *Keeper) Kept(ctx context.Context, service string) (docs, records, duplicated int, err error) {
	err = k.db.QueryRowxContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT record) FROM kept WHERE service = ?`, service).Scan(&docs, &records)
	if err == nil {
		err = k.db.GetContext(ctx, &duplicated, `SELECT COUNT(*) FROM (SELECT record FROM kept WHERE service = ? GROUP BY record HAVING COUNT(*) > 1)`, service)
	}
	return
}

func rootName(data []byte) (string, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		t, err := dec.Token()
		if err != nil {
			return "", err
		}
		if se, ok := t.(xml.StartElement); ok {
			return se.Name.Local, nil
		}
	}
}

// findCF returns the text of the first element named codiceFiscale (any case) that holds a
// person's 16-character code, or "".
func findCF(data []byte) string {
	dec := xml.NewDecoder(bytes.NewReader(data))
	in := false
	for {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		switch v := t.(type) {
		case xml.StartElement:
			in = strings.EqualFold(v.Name.Local, "codicefiscale") || strings.EqualFold(v.Name.Local, "CodiceFiscaleLavoratore")
		case xml.CharData:
			if s := strings.TrimSpace(string(v)); in && len(s) == 16 {
				return strings.ToUpper(s)
			}
		case xml.EndElement:
			in = false
		}
	}
}

// Names are the adapter names a delivery may give as adapter:NAME, sorted.
func Names() []string {
	var out []string
	for name := range (&Data{}).Backends(time.Now) {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
