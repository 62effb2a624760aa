package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"porta/audit"
	"porta/audit/seal"
	"porta/gateway/node"
)

// porta trace verify|list|show: the operators' view of the audit trail. Each opens the store
// read-only, named by --store or by the store of --config DIR/porta.yaml.

var traceSubcommands = map[string]subcommand{
	"verify": {"recompute every node's hash chain; exit 1 naming the first broken record", traceVerify},
	"list":   {"list traced buste, newest first, with filters", traceList},
	"show":   {"show a traced busta (by ID, transaction or node/seq), its header and its exchange", traceShow},
	"key":    {traceKeySummary, traceKey},
}

func init() {
	register(command{
		name:    "trace",
		summary: "read and verify the audit trail (tracciamento)",
		subs:    traceSubcommands,
	})
}

// storeFlags are the flags that name the store, shared by the trace subcommands.
type storeFlags struct {
	store, config string
}

func (sf *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&sf.store, "store", "", "the store: sqlite:PATH, a file path, or postgres://... (overrides --config)")
	fs.StringVar(&sf.config, "config", "", "porta.yaml whose store to read")
}

// open opens the named store read-only, with the configuration's index key (trace.index_key)
// when --config is given: a search by business identifier hashes the value with it.
func (sf *storeFlags) open(ctx context.Context) (*audit.Store, error) {
	dsn := sf.store
	var key []byte
	if sf.config != "" {
		cfg, err := node.LoadConfig(sf.config)
		if err != nil {
			return nil, err
		}
		if dsn == "" {
			dsn = cfg.Store
		}
		key = cfg.TraceIndexKey
	}
	if dsn == "" {
		return nil, errors.New("no store: give --store DSN or --config DIR/porta.yaml")
	}
	if err := storeExists(dsn, sf.config); err != nil {
		return nil, err
	}
	return audit.Open(ctx, dsn, audit.Options{ReadOnly: true, IndexKey: key})
}

type anchorFlags []audit.Head

func (a *anchorFlags) String() string { return fmt.Sprint(*a) }
func (a *anchorFlags) Set(v string) error {
	parts := strings.Split(v, ":")
	if len(parts) != 3 {
		return fmt.Errorf("anchor %q: want NODE:SEQ:HASH as printed by porta trace verify", v)
	}
	seq, err := strconv.ParseInt(parts[1], 10, 64)
	if _, herr := hex.DecodeString(parts[2]); err != nil || herr != nil || seq < 1 {
		return fmt.Errorf("anchor %q: want NODE:SEQ:HASH with a positive seq and a hex hash", v)
	}
	*a = append(*a, audit.Head{Node: parts[0], Seq: seq, Hash: parts[2]})
	return nil
}

func traceVerify(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("trace verify", "[--config DIR/porta.yaml | --store DSN] [--node N] [--anchor NODE:SEQ:HASH]... [--cert FILE]... [--json]", stdout, stderr)
	var sf storeFlags
	sf.register(fs.FlagSet)
	node := fs.String("node", "", "verify only this node's chain")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	var anchors anchorFlags
	fs.Var(&anchors, "anchor", "NODE:SEQ:HASH of a head printed by an earlier run; the chain must still contain it (repeatable)")
	var certFiles stringList
	fs.Var(&certFiles, "cert", "a certificate (PEM) whose key may sign chain bases and heads (repeatable; --config adds its paths.cert); none: any, printed")
	if code, done := fs.parse(args); done {
		return code
	}
	ctx := context.Background()
	vo, err := verifyTrust(sf.config, certFiles)
	if err != nil {
		fmt.Fprintln(stderr, "porta trace verify:", err)
		return 2
	}
	vo.Node, vo.Anchors = *node, anchors
	s, err := sf.open(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "porta trace verify:", err)
		return 2
	}
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(audit.VerifyGCPercent))
	}
	defer s.Close()
	rep, err := s.Verify(ctx, vo)
	var ce *audit.ChainError
	if errors.As(err, &ce) {
		if *asJSON {
			json.NewEncoder(stdout).Encode(map[string]any{"ok": false, "records": rep.Records, "broken": map[string]any{
				"node": ce.Node, "seq": ce.Seq, "id": ce.ID, "kind": ce.Kind, "reason": ce.Reason}})
		}
		fmt.Fprintf(stderr, "porta trace verify: BROKEN: %v\n", ce)
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, "porta trace verify:", err)
		return 2
	}
	if *asJSON {
		json.NewEncoder(stdout).Encode(map[string]any{"ok": true, "records": rep.Records, "heads": rep.Heads,
			"seconds": rep.Elapsed.Seconds()})
		return 0
	}
	rate := float64(rep.Records) / max(rep.Elapsed.Seconds(), 1e-9)
	fmt.Fprintf(stdout, "OK: %d records in %d chains verified in %v (%.0f records/s)\n", rep.Records, len(rep.Heads), rep.Elapsed.Round(time.Millisecond), rate)
	for _, h := range rep.Heads {
		fmt.Fprintf(stdout, "head %s:%d:%s\n", h.Node, h.Seq, h.Hash)
	}
	for _, b := range rep.Bases {
		pinned := pinnedNote(vo, b.Node)
		fmt.Fprintf(stdout, "base %s:%d:%x (archived %s, manifest SHA-256 %x), signed by %s%s\n", b.Node, b.Seq, []byte(b.Hash), b.Cut.Local().Format(time.DateTime), []byte(b.Manifest), b.Cert.Subject, pinned)
	}
	for _, h := range rep.Signed {
		ts := ""
		if len(h.Timestamp) > 0 {
			ts = ", timestamped"
		}
		pinned := pinnedNote(vo, h.Node)
		fmt.Fprintf(stdout, "signed head %s:%d:%x at %s by %s%s%s\n", h.Node, h.Seq, []byte(h.Hash), h.Signed.Local().Format(time.DateTime), h.Cert.Subject, ts, pinned)
	}
	return 0
}

// parseTime reads --from and --to: RFC 3339, "2006-01-02T15:04" or a date, in local time when
// no zone is given.
func parseTime(flagName, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--%s %q: want RFC 3339 (2026-11-28T09:15:00+01:00), 2026-11-28T09:15 or 2026-11-28", flagName, v)
}

func traceList(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("trace list", "[--config DIR/porta.yaml | --store DSN] [filters] [--json]", stdout, stderr)
	var sf storeFlags
	sf.register(fs.FlagSet)
	from := fs.String("from", "", "only records traced at or after this time")
	to := fs.String("to", "", "only records traced before this time")
	var f audit.Filter
	fs.StringVar(&f.Party, "party", "", "only buste from or to this party")
	fs.StringVar(&f.Service, "service", "", "only this service")
	fs.StringVar(&f.ID, "id", "", "only buste with this Identificatore, RiferimentoMessaggio, Collaborazione or transaction;\nNAME=VALUE: only buste carrying this business identifier (e.g. cf=RSSMRA80A01H501U, needs --config for its index key)")
	fs.StringVar(&f.Outcome, "outcome", "", "only this outcome (sent, received, delivered, acked, duplicate, error, expired, ...)")
	dir := fs.String("direction", "", "only in or out")
	fs.StringVar(&f.Node, "node", "", "only this gateway node")
	fs.IntVar(&f.Limit, "limit", 50, "at most this many records (up to 10000)")
	asJSON := fs.Bool("json", false, "print a JSON array")
	if code, done := fs.parse(args); done {
		return code
	}
	if fs.NArg() > 0 {
		return fs.fail("unexpected argument %q (filters are flags)", fs.Arg(0))
	}
	var err error
	if f.From, err = parseTime("from", *from); err == nil {
		f.To, err = parseTime("to", *to)
	}
	if err == nil && *dir != "" && *dir != "in" && *dir != "out" {
		err = fmt.Errorf("--direction %q: want in or out", *dir)
	}
	if err == nil && f.Limit < 1 {
		err = fmt.Errorf("--limit %d: want at least 1", f.Limit)
	}
	if err != nil {
		fmt.Fprintln(stderr, "porta trace list:", err)
		return 2
	}
	f.Direction = audit.Direction(*dir)
	if name, value, ok := strings.Cut(f.ID, "="); ok {
		// Identificatori and transactions hold no '=': this is a business identifier.
		f.ID, f.BusinessID = "", audit.BusinessID{Name: name, Value: value}
	}
	ctx := context.Background()
	s, err := sf.open(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "porta trace list:", err)
		return 2
	}
	defer s.Close()
	rs, err := s.List(ctx, f)
	if errors.Is(err, audit.ErrNoIndexKey) {
		fmt.Fprintln(stderr, "porta trace list: --id NAME=VALUE searches by a business identifier's keyed hash: give --config DIR/porta.yaml, whose trace.index_key is the key")
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "porta trace list:", err)
		return 1
	}
	if *asJSON {
		if rs == nil {
			rs = []*audit.Record{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rs)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RECORDED\tRECORD\tDIR\tOUTCOME\tSENDER -> RECEIVER\tSERVICE/ACTION\tID")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s/%d\t%s\t%s\t%s -> %s\t%s/%s\t%s\n", r.Recorded.Local().Format("2006-01-02 15:04:05.000"), r.Node, r.Seq,
			r.Direction, r.Outcome, r.Sender, r.Receiver, r.Service, r.Action, r.ID)
	}
	tw.Flush()
	return 0
}

func traceShow(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("trace show", "[flags] ID|TRANSACTION|NODE/SEQ", stdout, stderr)
	var sf storeFlags
	sf.register(fs.FlagSet)
	asJSON := fs.Bool("json", false, "print the record and its exchange as JSON")
	keyDir := fs.String("keys", "", "the trace keys' directory, to decrypt an encrypted envelope (default: --config's trace.keys)")
	if code, done := fs.parse(args); done {
		return code
	}
	if fs.NArg() != 1 {
		return fs.fail("name one record: ID, TRANSACTION or NODE/SEQ")
	}
	ctx := context.Background()
	s, err := sf.open(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "porta trace show:", err)
		return 2
	}
	defer s.Close()
	ex, err := s.Show(ctx, fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "porta trace show:", err)
		return 1
	}
	r := ex.Record
	// An encrypted envelope is opened with the trace keys; without them (or without the key
	// that sealed it) the rest of the record is shown and the envelope's absence explained.
	env, envErr := r.Envelope(nil)
	if r.BodyMode.Encrypted() && len(r.Raw) > 0 {
		env, envErr = openEnvelope(r, sf.config, *keyDir)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		out := struct {
			*audit.Exchange
			Envelope      string `json:"envelope,omitempty"` // the decrypted envelope of an encrypted record
			EnvelopeError string `json:"envelope_error,omitempty"`
		}{Exchange: ex}
		if r.BodyMode.Encrypted() && envErr == nil {
			out.Envelope = string(env)
		} else if envErr != nil {
			out.EnvelopeError = envErr.Error()
		}
		enc.Encode(out)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	row := func(k string, v any) {
		if s := fmt.Sprint(v); s != "" && s != "0" {
			fmt.Fprintf(tw, "%s\t%s\n", k, s)
		}
	}
	row("Record", fmt.Sprintf("%s/%d", r.Node, r.Seq))
	row("Transaction", r.Transaction)
	row("Direction", fmt.Sprintf("%s (%s)", r.Direction, r.Function))
	row("Identificatore", r.ID)
	row("RiferimentoMessaggio", r.RelatesTo)
	row("Collaborazione", r.Conversation)
	row("Mittente", r.Sender)
	row("Destinatario", r.Receiver)
	row("Servizio/Azione", r.Service+"/"+r.Action)
	row("Profilo", r.Profile)
	if !r.Time.IsZero() {
		row("OraRegistrazione", r.Time.Local().Format(time.RFC3339Nano))
	}
	row("Recorded", r.Recorded.Local().Format(time.RFC3339Nano))
	row("Outcome", r.Outcome)
	for _, x := range r.Exceptions {
		row("Eccezione", strings.TrimSpace(fmt.Sprintf("%s %s %s %s", x.Code, x.Severity, x.Context, x.Position)))
	}
	row("HTTP status", r.HTTPStatus)
	row("Peer", r.Peer)
	row("Signer SHA-256", r.Signer)
	row("TLS client", r.ClientSubject)
	row("TLS client SHA-256", r.ClientCert)
	row("Application", r.Application)
	row("Reason", r.Reason)
	if len(r.PayloadHash) > 0 {
		row("Payload SHA-256", fmt.Sprintf("%x (%d bytes)", r.PayloadHash, r.PayloadSize))
	}
	switch {
	case r.BodyMode == audit.BodyCapped:
		row("Body mode", fmt.Sprintf("%s: truncated, %d of %d bytes kept", r.BodyMode, len(r.Raw), r.RawSize))
	case r.BodyMode.Encrypted() && envErr == nil:
		row("Body mode", fmt.Sprintf("%s with key %s: %d of %d bytes kept", r.BodyMode, r.KeyID(), len(env), r.RawSize))
	case r.BodyMode.Encrypted():
		row("Body mode", fmt.Sprintf("%s with key %s", r.BodyMode, r.KeyID()))
	default:
		row("Body mode", r.BodyMode)
	}
	if !r.Purged.IsZero() {
		row("Body purged", fmt.Sprintf("%s, past its service's retention (the stored envelope's SHA-256 was %x)", r.Purged.Local().Format(time.DateTime), r.RawDigest))
	}
	if len(r.RawHash) > 0 && r.RawSize > 0 {
		row("Envelope SHA-256", fmt.Sprintf("%x (%d bytes)", r.RawHash, r.RawSize))
	} else if len(r.RawHash) > 0 {
		row("Envelope SHA-256", hex.EncodeToString(r.RawHash))
	}
	row("Detail", r.Detail)
	row("Hash", hex.EncodeToString(r.Hash))
	tw.Flush()
	if len(r.Header) > 0 {
		fmt.Fprintln(stdout, "\nIntestazione:")
		writeIndented(stdout, r.Header)
	}
	switch {
	case envErr != nil:
		fmt.Fprintf(stdout, "\nEnvelope (%s): not shown: %v\n", r.BodyMode, envErr)
	case len(env) > 0:
		fmt.Fprintf(stdout, "\nEnvelope (%s):\n", r.BodyMode)
		writeIndented(stdout, env)
	}
	fmt.Fprintf(stdout, "\nExchange (%d records):\n", len(ex.Exchange))
	tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, e := range ex.Exchange {
		mark := " "
		if e.Node == r.Node && e.Seq == r.Seq {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s/%d\t%s\t%s\t%s -> %s\t%s/%s\t%s\n", mark, e.Recorded.Local().Format("2006-01-02 15:04:05.000"), e.Node, e.Seq,
			e.Direction, e.Outcome, e.Sender, e.Receiver, e.Service, e.Action, e.ID)
	}
	tw.Flush()
	return 0
}

// openEnvelope opens an encrypted record's envelope with the keys of --keys, else of --config's
// trace.keys; the error says which keys were missing or lacked the record's key.
func openEnvelope(r *audit.Record, config, keyDir string) ([]byte, error) {
	dir, err := traceKeyDir(config, keyDir)
	if err != nil {
		return nil, fmt.Errorf("encrypted with key %s: %w", r.KeyID(), err)
	}
	keys, err := seal.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("encrypted with key %s: %w", r.KeyID(), err)
	}
	return r.Envelope(keys)
}

// writeIndented pretty-prints XML, keeping prefixes and attributes as written; if the bytes are
// not well-formed it prints them as they are.
func writeIndented(w io.Writer, data []byte) {
	out, err := indentXML(data)
	if err != nil {
		out = append(data, '\n')
	}
	w.Write(out)
}

func indentXML(data []byte) ([]byte, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	var b bytes.Buffer
	depth := 0
	name := func(n xml.Name) string {
		if n.Space != "" {
			return n.Space + ":" + n.Local
		}
		return n.Local
	}
	pad := func() { b.WriteString(strings.Repeat("  ", depth)) }
	var pendingText string
	open := false // the last token was a start tag not yet closed by a line
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if open {
				b.WriteString("\n")
			}
			pad()
			b.WriteString("<" + name(t.Name))
			for _, a := range t.Attr {
				b.WriteString(" " + name(a.Name) + `="`)
				xml.EscapeText(&b, []byte(a.Value))
				b.WriteString(`"`)
			}
			b.WriteString(">")
			depth++
			open, pendingText = true, ""
		case xml.EndElement:
			depth--
			if open {
				xml.EscapeText(&b, []byte(pendingText))
			} else {
				pad()
			}
			b.WriteString("</" + name(t.Name) + ">\n")
			open, pendingText = false, ""
		case xml.CharData:
			if s := strings.TrimSpace(string(t)); s != "" {
				pendingText += s
			}
		case xml.ProcInst, xml.Comment, xml.Directive:
			// Not needed to read a busta.
		}
	}
	if depth != 0 {
		return nil, errors.New("unbalanced XML")
	}
	return b.Bytes(), nil
}

// storeExists refuses a SQLite store that is not there, so that a command reading a store (or
// drawing from its counters) never creates an empty one; config is the --config that named it.
func storeExists(dsn, config string) error {
	dialect, _, _, err := audit.ParseDSN(dsn)
	if err != nil || dialect != "sqlite" {
		return err
	}
	path := strings.TrimPrefix(dsn, "sqlite:")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if config != "" {
			return fmt.Errorf("no store at %s; is this the right --config (%s)? porta serve creates it", path, config)
		}
		return fmt.Errorf("no store at %s", path)
	}
	return nil
}
