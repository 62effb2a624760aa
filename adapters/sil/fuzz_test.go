package sil

import (
	"strings"
	"testing"
)

// FuzzParseConfig: any bytes give a Config or an error naming the file, never a panic.
func FuzzParseConfig(f *testing.F) {
	f.Add(DefaultConfig)
	f.Add([]byte("worker: {columns: {id: 1}}"))
	f.Add([]byte("database: [1, 2"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("f.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if c.Worker.ByCF == "" || c.Worker.Columns["codice_fiscale"] == "" {
			t.Fatalf("accepted a config without the required parts: %+v", c)
		}
	})
}
