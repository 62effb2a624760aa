package redact

import (
	"strings"
	"testing"
)

func TestArgs(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"sil send --app sil:s3cret --what sap", "sil send --app sil:xxxxx --what sap"},
		{"sil send --app=sil:s3cret", "sil send --app=sil:xxxxx"},
		{"sil send -app sil:a:b", "sil send -app sil:xxxxx"},
		{"failures retry --province postgres://porta:s3cret@db:5432/prov", "failures retry --province postgres://porta:xxxxx@db:5432/prov"},
		{"trace list --store=postgres://porta:s3cret@db/p", "trace list --store=postgres://porta:xxxxx@db/p"},
		{"sync scuole --school Liceo:RMPS01000A:2025/2026 --app", "sync scuole --school Liceo:RMPS01000A:2025/2026 --app"},
		{"trace list --store postgres://porta@db/p --json", "trace list --store postgres://porta@db/p --json"},
	} {
		got := Line(strings.Fields(tt.in))
		if got != tt.want {
			t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(got, "s3cret") {
			t.Errorf("Line(%q) prints the secret", tt.in)
		}
	}
	in := []string{"--app", "u:p"}
	Args(in)
	if in[1] != "u:p" {
		t.Error("Args changed its argument")
	}
}
