package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"porta/audit"
	"porta/envelope"
	"porta/gateway/node"
	"porta/registry"
	"porta/xsd"
)

func init() {
	envelopeSubcommands["wrap"] = subcommand{
		summary: "put a payload into a SOAP envelope with a new eGov busta",
		run:     runEnvelopeWrap,
	}
	envelopeSubcommands["validate"] = subcommand{
		summary: "check a busta (parse, schema, header rules) and print it as JSON",
		run:     runEnvelopeValidate,
	}
}

// readInput reads the one FILE argument, or stdin when there is none.
func readInput(args []string, stdin io.Reader) ([]byte, string, error) {
	switch len(args) {
	case 0:
		b, err := io.ReadAll(stdin)
		return b, "stdin", err
	case 1:
		b, err := os.ReadFile(args[0])
		return b, args[0], err
	default:
		return nil, "", fmt.Errorf("one FILE at most, got %d arguments", len(args))
	}
}

// parseParty reads NAME or TYPE:NAME (type SPC by default). The name becomes the first part of
// identifiers, so it must be letters and digits.
func parseParty(flagName, s string) (envelope.Party, error) {
	p := envelope.Party{Type: "SPC", Name: s}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		p.Type, p.Name = s[:i], s[i+1:]
	}
	if p.Type == "" || strings.ContainsAny(p.Type, " \t:") {
		return p, fmt.Errorf("--%s %q: the type before ':' must be one word, e.g. SPC", flagName, s)
	}
	if p.Name == "" || envelope.ValidateID(p.Name+"_X_0000001_2000-01-01_00:00") != nil {
		return p, fmt.Errorf("--%s %q: the party name must be letters and digits only (it starts every identifier)", flagName, s)
	}
	return p, nil
}

func runEnvelopeWrap(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("envelope wrap", `--from PARTY --to PARTY --service NAME --action NAME
       [--profile oneway|sync|async-symmetric|async-asymmetric] [--relates-to ID]
       [--conversation ID] [--expires RFC3339] [--once] [--ack]
       [--config DIR/porta.yaml | --port-id ID] [FILE]`, stdout, stderr)
	fs.About = `Puts the payload (an XML document in FILE or on stdin; empty for an empty Body) into the Body of a
SOAP 1.1 envelope whose header is a new eGov busta, and writes the envelope to stdout. PARTY is
NAME or TYPE:NAME (type SPC by default). The Identificatore is <from>_<port-id>_<NNNNNNN>_<date>_<time>;
dates are local time.

With --config the counter is the gateway's own, in its store (the counter porta serve draws from,
live or not), and the port is the registry's: the busta can be sent, its Identificatore is never one
the gateway mints. --from defaults to the gateway's first party and must be one it hosts.
Without --config the counter is this run's alone and starts at 1: every run in the same minute
makes the same Identificatore, which a gateway may have minted too. Use that for tests and
examples only; the command says so on stderr.`
	from := fs.String("from", "", "sending `PARTY` (Mittente)")
	to := fs.String("to", "", "receiving `PARTY` (Destinatario)")
	service := fs.String("service", "", "Servizio `NAME` (type SPC)")
	action := fs.String("action", "", "Azione `NAME`")
	profile := fs.String("profile", "oneway", "collaboration `profile`: oneway, sync, async-symmetric or async-asymmetric")
	relatesTo := fs.String("relates-to", "", "RiferimentoMessaggio: the `ID` this busta answers")
	conversation := fs.String("conversation", "", "Collaborazione `ID` (asynchronous buste default to their own ID)")
	expires := fs.String("expires", "", "Scadenza, an RFC 3339 `time`")
	once := fs.Bool("once", false, "inoltro EGOV_IT_ALPIUUNAVOLTA: the receiver filters duplicates")
	ack := fs.Bool("ack", false, "confermaRicezione=true: the receiver answers with a Riscontro")
	portID := fs.String("port-id", "", "identificativo porta of the sender, without --config (default NAMESPCoopIT)")
	config := fs.String("config", "", "the sending gateway's `porta.yaml`: draw the Identificatore from its store's counter")
	if code, done := fs.parse(args); done {
		return code
	}
	fail := fs.fail
	var gw *gatewayCounter
	if *config != "" {
		if *portID != "" {
			return fail("--port-id and --config exclude each other: with --config the port is the registry's")
		}
		var err error
		if gw, err = openGatewayCounter(*config, *from); err != nil {
			fmt.Fprintf(stderr, "porta envelope wrap: %v\n", err)
			return 1
		}
		defer gw.Close()
		if *from == "" {
			*from = gw.party
		}
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"from", *from}, {"to", *to}, {"service", *service}, {"action", *action}} {
		if f.v == "" {
			missing = append(missing, "--"+f.name)
		}
	}
	if len(missing) > 0 {
		return fail("%s required", strings.Join(missing, ", "))
	}
	h := &envelope.Header{ServiceType: "SPC", Service: *service, Action: *action}
	sender, err := parseParty("from", *from)
	if err != nil {
		return fail("%v", err)
	}
	h.Sender = []envelope.Party{sender}
	if h.Receiver, err = parseParty("to", *to); err != nil {
		return fail("%v", err)
	}
	if h.Profile, err = envelope.ParseProfile(*profile); err != nil || h.Profile == envelope.ProfileNone {
		return fail("--profile %q: want oneway, sync, async-symmetric or async-asymmetric", *profile)
	}
	for _, f := range []struct {
		name string
		v    string
		dst  *string
	}{{"relates-to", *relatesTo, &h.RelatesTo}, {"conversation", *conversation, &h.Conversation}} {
		if f.v == "" {
			continue
		}
		if err := envelope.ValidateID(f.v); err != nil {
			return fail("--%s: %v", f.name, err)
		}
		*f.dst = f.v
	}
	if *expires != "" {
		t, err := time.Parse(time.RFC3339Nano, *expires)
		if err != nil {
			return fail("--expires %q: want an RFC 3339 time such as 2026-12-01T18:00:00+01:00", *expires)
		}
		t = t.In(time.Local)
		h.Expires = &t
	}
	if *once || *ack {
		h.Transmission = &envelope.Transmission{AtMostOnce: *once, AckRequested: *ack}
	}
	if *portID != "" && envelope.ValidateID("X_"+*portID+"_0000001_2000-01-01_00:00") != nil {
		return fail("--port-id %q: letters and digits only", *portID)
	}
	payload, name, err := readInput(fs.Args(), stdin)
	if err != nil {
		return fail("%v", err)
	}
	var counter envelope.CounterStore = &envelope.MemoryCounter{}
	port := *portID
	if gw != nil {
		counter, port = gw.store, gw.port
	}
	gen := envelope.NewIDGenerator(sender.Name, port, time.Now, counter)
	gen.Block = 1 // one identifier per run: reserve no more than that
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, now, err := gen.NextAt(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "porta envelope wrap: %v\n", err)
		return 1
	}
	if gw == nil {
		fmt.Fprintf(stderr, "porta envelope wrap: no --config: %s comes from this run's own counter and may repeat one a gateway minted; give --config DIR/porta.yaml for a busta to send\n", id)
	}
	h.ID, h.Time = id, envelope.Timestamp{Time: now, Source: envelope.TimeSPC}
	if h.Profile.Async() && h.Conversation == "" {
		h.Conversation = id // the first busta of a conversation names it (spec §3)
	}
	doc, err := envelope.Wrap(h, payload)
	if err != nil {
		return fail("%s: %v", name, err)
	}
	out, err := envelope.Bytes(doc)
	if err != nil {
		fmt.Fprintf(stderr, "porta envelope wrap: %v\n", err)
		return 1
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintf(stderr, "porta envelope wrap: %v\n", err)
		return 1
	}
	return 0
}

func runEnvelopeValidate(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("envelope validate", "[FILE]", stdout, stderr)
	fs.About = `Checks the SOAP envelope in FILE (or stdin): XML safety limits, the busta's structure and values
(every exception of the eGov rules), our busta schema, and the Fault when the Body holds one.
Prints the busta as one JSON object on stdout and exits 0, or prints one "EGOV_IT_NNN: where: what"
line per problem on stderr and exits 1.`
	if code, done := fs.parse(args); done {
		return code
	}
	data, name, err := readInput(fs.Args(), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "porta envelope validate: %v\n", err)
		return 2
	}
	var lines []string
	report := func(err error) {
		var pe *envelope.ProtocolError
		if errors.As(err, &pe) {
			lines = append(lines, pe.Lines()...)
		} else if err != nil {
			lines = append(lines, fmt.Sprintf("%s: %s", envelope.CodeEnvelopeFormat, err))
		}
	}
	msg, err := envelope.Parse(data)
	report(err)
	if msg != nil && msg.Intestazione != nil {
		set, serr := xsd.Open()
		if serr != nil {
			fmt.Fprintf(stderr, "porta envelope validate: %v\n", serr)
			return 1
		}
		report(envelope.CheckSchema(set, msg.Intestazione))
		set.Close()
	}
	if msg != nil {
		_, ferr := envelope.ParseFault(msg)
		report(ferr)
	}
	if len(lines) > 0 {
		for _, l := range lines {
			fmt.Fprintln(stderr, l)
		}
		fmt.Fprintf(stderr, "porta envelope validate: %s: %d problem(s)\n", name, len(lines))
		return 1
	}
	out, err := json.Marshal(msg.Header)
	if err != nil {
		fmt.Fprintf(stderr, "porta envelope validate: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", out)
	return 0
}

// gatewayCounter is the identifier counter of a gateway's party: the store porta serve draws its
// Identificatori from, and the party's port as the gateway names it.
type gatewayCounter struct {
	party, port string
	store       *audit.Store
}

func (g *gatewayCounter) Close() error { return g.store.Close() }

// openGatewayCounter opens the counter of party (the gateway's first when empty) of the gateway
// configured by cfgPath. The store must exist: a wrong --config must not leave a new one behind.
func openGatewayCounter(cfgPath, party string) (*gatewayCounter, error) {
	cfg, err := node.LoadConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	if party == "" {
		party = cfg.Parties[0]
	} else if p, err := parseParty("from", party); err == nil {
		party = p.Name
	}
	if !slices.Contains(cfg.Parties, party) {
		return nil, fmt.Errorf("--from %s: %s hosts %s, not %s", party, cfg.File, strings.Join(cfg.Parties, ", "), party)
	}
	reg, err := registry.Load(cfg.Registry, registry.Options{})
	if err != nil {
		return nil, err
	}
	port := envelope.DefaultPortID(party)
	if p, ok := reg.Party(party); ok && p.PortID != "" {
		port = p.PortID
	}
	if err := storeExists(cfg.Store, cfgPath); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := audit.Open(ctx, cfg.Store, audit.Options{Node: cfg.Node})
	if err != nil {
		return nil, err
	}
	return &gatewayCounter{party: party, port: port, store: st}, nil
}
