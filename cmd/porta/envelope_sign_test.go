package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testPKI = "../../testdata/pki/"

// wssecPorta runs the command line in-process.
func wssecPorta(t *testing.T, stdin []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestEnvelopeSignVerify(t *testing.T) {
	unsigned, err := os.ReadFile("../../testdata/wssec/unsigned.xml")
	if err != nil {
		t.Fatal(err)
	}
	code, signed, stderr := wssecPorta(t, unsigned, "envelope", "sign", "--key", testPKI+"test-rsa.key.pem", "--cert", testPKI+"test-rsa.cert.pem")
	if code != 0 || !strings.Contains(signed, "wsse:Security") {
		t.Fatalf("sign: exit %d, stderr %s", code, stderr)
	}
	// From a file too, with the ECDSA key.
	file := filepath.Join(t.TempDir(), "in.xml")
	if err := os.WriteFile(file, unsigned, 0o644); err != nil {
		t.Fatal(err)
	}
	code, signedEC, stderr := wssecPorta(t, nil, "envelope", "sign", "--key", testPKI+"test-ecdsa.key.pem", "--cert", testPKI+"test-ecdsa.cert.pem", file)
	if code != 0 {
		t.Fatalf("sign FILE: exit %d, stderr %s", code, stderr)
	}

	for name, in := range map[string]string{"rsa by CA": signed, "ecdsa by CA": signedEC} {
		code, out, stderr := wssecPorta(t, []byte(in), "envelope", "verify", "--ca", testPKI+"test-ca.cert.pem")
		if code != 0 {
			t.Fatalf("%s: verify: exit %d, stderr %s", name, code, stderr)
		}
		var busta map[string]any
		if err := json.Unmarshal([]byte(out), &busta); err != nil || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Fatalf("%s: output is not one JSON object: %v\n%s", name, err, out)
		}
		if busta["id"] != "ProvinciaDiEsempio_ProvinciaDiEsempioSPCoopIT_0000001_2026-06-01_10:00" {
			t.Errorf("%s: busta id %v in %s", name, busta["id"], out)
		}
	}
	if code, _, stderr := wssecPorta(t, []byte(signed), "envelope", "verify", "--trust", testPKI+"test-rsa.cert.pem", "--max-skew", "1m"); code != 0 {
		t.Errorf("pinned: exit %d, stderr %s", code, stderr)
	}

	failures := []struct {
		name   string
		input  string
		args   []string
		prefix string
	}{
		{"tampered body", strings.Replace(signed, "Mario", "Maria", 1), []string{"--ca", testPKI + "test-ca.cert.pem"}, "EGOV_IT_117: "},
		{"untrusted signer", signed, []string{"--trust", testPKI + "test-ecdsa.cert.pem"}, "EGOV_IT_200: "},
		{"unsigned", string(unsigned), []string{"--ca", testPKI + "test-ca.cert.pem"}, "EGOV_IT_200: "},
		{"not XML", "<a", []string{"--ca", testPKI + "test-ca.cert.pem"}, "EGOV_IT_001: "},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			code, out, stderr := wssecPorta(t, []byte(f.input), append([]string{"envelope", "verify"}, f.args...)...)
			if code != 1 || out != "" || !strings.HasPrefix(stderr, f.prefix) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1 and %q...", code, out, stderr, f.prefix)
			}
		})
	}
}

func TestEnvelopeSignVerifyUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"envelope", "sign", "--help"}, 0, "-key"},
		{[]string{"envelope", "verify", "--help"}, 0, "-max-skew"},
		{[]string{"envelope", "sign", "--key", testPKI + "test-rsa.key.pem"}, 2, "--key and --cert are required"},
		{[]string{"envelope", "verify"}, 2, "at least one --trust or --ca"},
		{[]string{"envelope", "verify", "--max-skew", "soon", "--ca", "x"}, 2, "invalid value"},
		{[]string{"envelope", "sign", "--key", testPKI + "missing.pem", "--cert", testPKI + "test-rsa.cert.pem"}, 1, "missing.pem"},
		{[]string{"envelope", "verify", "--ca", testPKI + "test-rsa.key.pem"}, 1, "no CERTIFICATE"},
		{[]string{"envelope", "sign", "--key", testPKI + "test-rsa.key.pem", "--cert", testPKI + "test-rsa.cert.pem", "a", "b"}, 1, "one FILE at most"},
		{[]string{"envelope", "sign", "--key", testPKI + "test-rsa.key.pem", "--cert", testPKI + "test-rsa.cert.pem", "/nonexistent.xml"}, 1, "/nonexistent.xml"},
	}
	for _, tt := range tests {
		code, stdout, stderr := wssecPorta(t, []byte("<a/>"), tt.args...)
		if tt.code == 0 {
			stderr = stdout // --help: the usage goes to stdout
		}
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args[1:], code, stderr, tt.code, tt.want)
		}
	}
}
