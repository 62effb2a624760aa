package e2e

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"porta/envelope"
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

// TestLongSenderIsNotEchoed (issue 10, finding 8): a busta whose Mittente is a 60 KB name is
// refused by the Porta Applicativa; neither its answer (an error busta) nor its log carries more
// than 8 KB of the name.
func TestLongSenderIsNotEchoed(t *testing.T) {
	be := newBackend(t)
	p, m := newSites(t, map[string]string{prov: be.URL, min_: be.URL})
	gm := serve(t, m, "ministero")
	long := strings.Repeat("Q", 60_000)
	h := &envelope.Header{
		Sender: []envelope.Party{{Type: "SPC", Name: long}}, Receiver: envelope.Party{Type: "SPC", Name: min_},
		Profile: envelope.OneWay, ServiceType: "SPC", Service: "Comunicazione", Action: "Invia",
		ID:   "Provincia_ProvinciaSPCoopIT_0000001_2026-01-01_10:00",
		Time: envelope.Timestamp{Time: time.Now(), Source: envelope.TimeSPC},
	}
	b, err := envelope.NewEnvelope(h).WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := mtlsClient(t, p, m).Post("https://"+m.pa+"/pa", "text/xml; charset=utf-8", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	t.Logf("HTTP %d, %d bytes of answer, %d bytes of the name echoed", resp.StatusCode, len(body), longestRun(string(body), 'Q'))
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("HTTP %d, want 500 (refused)", resp.StatusCode)
	}
	if n := longestRun(string(body), 'Q'); n > 8<<10 {
		t.Errorf("the answer echoes %d bytes of the name, want at most 8 KiB", n)
	}
	time.Sleep(200 * time.Millisecond)
	if n := longestRun(gm.proc.Output(), 'Q'); n > 8<<10 {
		t.Errorf("the log echoes %d bytes of the name, want at most 8 KiB", n)
	}
}
