package main

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"porta/envelope"
	"porta/envelope/wssec"
)

func init() {
	envelopeSubcommands["sign"] = subcommand{
		summary: "add a WS-Security signature over Body, busta and Timestamp",
		run:     runEnvelopeSign,
	}
	envelopeSubcommands["verify"] = subcommand{
		summary: "verify the WS-Security signature and print the verified busta as JSON",
		run:     runEnvelopeVerify,
	}
}

// wssecInput reads the named file, or stdin when there is no argument.
func wssecInput(fs interface{ Args() []string }, stdin io.Reader) ([]byte, string, error) {
	switch args := fs.Args(); len(args) {
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

func runEnvelopeSign(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("envelope sign", "--key KEY.pem --cert CERT.pem [--key-ref bst] [FILE]", stdout, stderr)
	fs.About = "Signs a SOAP envelope (FILE or stdin) with WS-Security and writes it to stdout."
	key := fs.String("key", "", "PEM `file` of the private key (RSA or ECDSA P-256)")
	cert := fs.String("cert", "", "PEM `file` of the key's X.509 certificate")
	keyRef := fs.String("key-ref", "bst", "how ds:KeyInfo designates the certificate: bst, issuer-serial, x509, ski or thumbprint")
	if code, done := fs.parse(args); done {
		return code
	}
	ref, err := wssec.ParseKeyRef(*keyRef)
	if err != nil {
		return fs.fail("%v", err)
	}
	if *key == "" || *cert == "" {
		return fs.fail("--key and --cert are required")
	}
	signer, err := wssec.LoadSigner(*key, *cert)
	if err != nil {
		fmt.Fprintf(stderr, "porta envelope sign: %v\n", err)
		return 1
	}
	signer.Parts, signer.KeyRef = envelope.SignedParts(), ref
	data, name, err := wssecInput(fs, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "porta envelope sign: %v\n", err)
		return 1
	}
	signed, err := signer.SignBytes(data)
	if err != nil {
		fmt.Fprintf(stderr, "porta envelope sign: %s: %v\n", name, err)
		return 1
	}
	if _, err := stdout.Write(signed); err != nil {
		fmt.Fprintf(stderr, "porta envelope sign: %v\n", err)
		return 1
	}
	return 0
}

// wssecPaths is a repeatable string flag.
type wssecPaths []string

func (l *wssecPaths) String() string     { return strings.Join(*l, ",") }
func (l *wssecPaths) Set(s string) error { *l = append(*l, s); return nil }

func runEnvelopeVerify(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("envelope verify", "(--trust CERT.pem | --ca CA.pem)... [--max-skew 5m] [FILE]", stdout, stderr)
	fs.About = "Verifies the WS-Security signature of a SOAP envelope (FILE or stdin) and prints the\n" +
		"verified busta as one JSON object. On failure prints \"EGOV_IT_NNN: what failed\" and exits 1.\n" +
		"A KeyInfo that names the signer's certificate (issuer and serial, SKI, thumbprint) instead of\n" +
		"carrying it is resolved among the --trust certificates only."
	var trust, ca wssecPaths
	fs.Var(&trust, "trust", "PEM `file` of a pinned signer certificate (repeatable)")
	fs.Var(&ca, "ca", "PEM `file` of a trusted CA certificate (repeatable)")
	skew := fs.Duration("max-skew", wssec.DefaultMaxSkew, "clock skew tolerated on the wsu:Timestamp")
	if code, done := fs.parse(args); done {
		return code
	}
	if len(trust)+len(ca) == 0 {
		return fs.fail("at least one --trust or --ca is required")
	}
	if *skew < 0 {
		fmt.Fprintln(stderr, "porta envelope verify: --max-skew must not be negative")
		return 2
	}
	store, err := wssec.LoadTrustStore(trust, ca)
	if err != nil {
		fmt.Fprintf(stderr, "porta envelope verify: %v\n", err)
		return 1
	}
	data, _, err := wssecInput(fs, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "porta envelope verify: %v\n", err)
		return 1
	}
	v := &wssec.Verifier{Trust: store, MaxSkew: *skew, Now: time.Now, Parts: envelope.SignedParts()}
	if *skew == 0 {
		v.MaxSkew = time.Nanosecond // 0 asked for: no tolerance (the Verifier reads 0 as the default)
	}
	var known []*x509.Certificate // the pinned certificates: what a KeyInfo may name
	for _, f := range trust {
		if b, err := os.ReadFile(f); err == nil {
			cs, _ := wssec.ParseCertificatesPEM(b)
			known = append(known, cs...)
		}
	}
	verified, err := v.VerifyFrom(data, known)
	if err != nil {
		return printWSSecError(stderr, envelope.SecurityError(err))
	}
	intestazione := verified.Parts[envelope.IntestazioneName]
	if intestazione == nil {
		return printWSSecError(stderr, envelope.NewError(envelope.CodeHeaderFormat, "Intestazione", "the signature is valid but the message carries no eGov_IT:Intestazione"))
	}
	h, err := envelope.ParseHeader(intestazione)
	if err != nil {
		return printWSSecError(stderr, err)
	}
	out, err := json.Marshal(h)
	if err != nil {
		fmt.Fprintf(stderr, "porta envelope verify: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", out)
	return 0
}

// printWSSecError writes "EGOV_IT_NNN: what failed" for a *envelope.ProtocolError.
func printWSSecError(stderr io.Writer, err error) int {
	var pe *envelope.ProtocolError
	if errors.As(err, &pe) {
		detail := pe.Detail
		if len(pe.Exceptions) > 0 && pe.Exceptions[0].Position != "" {
			detail = pe.Exceptions[0].Position + ": " + detail
		}
		fmt.Fprintf(stderr, "%s: %s\n", pe.Code(), detail)
		return 1
	}
	fmt.Fprintf(stderr, "porta envelope verify: %v\n", err)
	return 1
}
