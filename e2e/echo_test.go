package e2e

import (
	"strings"
	"testing"
	"time"
)

// longestRun is the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

// TestLongHeaderIsNotEchoed (issue 10, finding 8): a 60 KB Porta-Relates-To, malformed or shaped
// like an identifier, is refused; neither the fault nor the gateway's log carries more than 8 KB
// of it.
func TestLongHeaderIsNotEchoed(t *testing.T) {
	be := newBackend(t)
	p, _ := newSites(t, map[string]string{prov: be.URL, min_: be.URL})
	gp := serve(t, p, "provincia")
	long := strings.Repeat("Q", 60_000)
	for _, tc := range []struct{ name, value string }{
		{"malformed", long},
		{"shaped like an identifier", long + "_MinisteroSPCoopIT_0000001_2026-01-01_10:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := gp.mustCall(t, "/pd/Provincia/Ministero/Comunicazione/Invia", 1, map[string]string{"Porta-Relates-To": tc.value})
			echoed := longestRun(body, 'Q')
			for _, vs := range resp.Header {
				for _, v := range vs {
					echoed = max(echoed, longestRun(v, 'Q'))
				}
			}
			t.Logf("HTTP %d, %d bytes of fault, %d bytes of the header echoed", resp.StatusCode, len(body), echoed)
			if resp.StatusCode != 500 {
				t.Errorf("HTTP %d, want 500 (refused)", resp.StatusCode)
			}
			if echoed > 8<<10 {
				t.Errorf("the answer echoes %d bytes of the header, want at most 8 KiB", echoed)
			}
		})
	}
	time.Sleep(200 * time.Millisecond) // the log lines of the refusals
	if n := longestRun(gp.proc.Output(), 'Q'); n > 8<<10 {
		t.Errorf("the log echoes %d bytes of the header, want at most 8 KiB", n)
	}
}
