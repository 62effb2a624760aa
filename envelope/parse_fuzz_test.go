package envelope

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse, ParseFault and the builder: none may panic, an error
// is always a *ProtocolError, and whatever parses without error builds back into a header that
// parses again without error. The corpus starts from the golden files and the malformed base.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "envelope", "*.xml"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(base))
	f.Add([]byte(sampleA))
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := Parse(data)
		if err != nil {
			if _, ok := err.(*ProtocolError); !ok {
				t.Fatalf("error %T %v is not a *ProtocolError", err, err)
			}
		}
		if msg == nil {
			return
		}
		_, _ = ParseFault(msg)
		if err != nil || msg.Header == nil {
			return
		}
		again, err := ParseHeader(msg.Header.Element())
		if err != nil {
			t.Fatalf("a header that parsed does not parse after rebuilding: %v\n%s", err, data)
		}
		_ = again
	})
}
