package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAttributeBombRefusedCheaply posts 1,000,000 attributes (about 12 MB) to the provider's
// Porta Applicativa, as a peer over mTLS, in two shapes: all on one element, and 200 to an
// element. Each is refused with EGOV_IT_001 (xmlsafe's attribute caps) for less than 0.5 s of the
// provider's CPU and less than 100 MB more peak RSS; without the caps the parse took 2-4 CPU-s
// and ~400 MB.
func TestAttributeBombRefusedCheaply(t *testing.T) {
	if testing.Short() {
		t.Skip("posts 12 MB bodies to a porta serve")
	}
	be := newBackend(t)
	p, m := newSites(t, map[string]string{prov: be.URL, min_: be.URL})
	gm := serve(t, m, "ministero")
	cli := mtlsClient(t, p, m)
	cli.Timeout = 30 * time.Second
	const n = 1_000_000
	for _, tc := range []struct {
		name    string
		perElem int
		reason  string // the cap, as the provider logs it
	}{{"one element", n, "more than 256 attributes on <e>"}, {"200 per element", 200, "more than 65536 attributes"}} {
		t.Run(tc.name, func(t *testing.T) {
			body := attributeBomb(n, tc.perElem)
			before := procUsage(t, gm.proc.Pid())
			resp, err := cli.Post("https://"+m.pa+"/pa", "text/xml; charset=utf-8", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			after := procUsage(t, gm.proc.Pid())
			cpu, peak, rss := after.cpu-before.cpu, after.peakRSS-before.peakRSS, after.rss-before.rss
			t.Logf("%d-byte body, %d attributes: HTTP %d, provider CPU %.2fs, peak RSS +%d MB, RSS +%d MB",
				len(body), n, resp.StatusCode, cpu.Seconds(), peak>>20, rss>>20)
			if !strings.Contains(string(answer), "EGOV_IT_001") {
				t.Errorf("HTTP %d, want a fault with EGOV_IT_001:\n%.2000s", resp.StatusCode, answer)
			}
			// The provider logs before it answers, but its output reaches us through a pipe: wait
			// for the line rather than race it.
			gm.proc.WaitFor(regexp.MustCompile(regexp.QuoteMeta(tc.reason)), 10*time.Second)
			if cpu >= 500*time.Millisecond {
				t.Errorf("the refusal took %v of the provider's CPU, want < 0.5s", cpu)
			}
			if peak >= 100<<20 {
				t.Errorf("the refusal raised the provider's peak RSS by %d MB, want < 100 MB", peak>>20)
			}
		})
	}
	if len(be.all()) != 0 {
		t.Errorf("deliveries: %+v", be.all())
	}
}

// attributeBomb is a SOAP envelope whose body holds n attributes, perElem to an element.
func attributeBomb(n, perElem int) []byte {
	var b bytes.Buffer
	b.WriteString(`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header/><soapenv:Body><bomb>`)
	for i := 0; i < n; i++ {
		if i%perElem == 0 {
			if i > 0 {
				b.WriteString("/>")
			}
			b.WriteString("<e")
		}
		fmt.Fprintf(&b, ` a%d=""`, i)
	}
	b.WriteString(`/></bomb></soapenv:Body></soapenv:Envelope>`)
	return b.Bytes()
}

type usage struct {
	cpu          time.Duration // user + system
	rss, peakRSS int64         // bytes: VmRSS, VmHWM
}

// procUsage reads a process's CPU time (/proc/PID/stat utime+stime) and resident set
// (/proc/PID/status VmRSS and its peak VmHWM).
func procUsage(t testing.TB, pid int) usage {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	// The fields after the command name, which is in parentheses and may hold spaces:
	// state is field 3, utime 14 and stime 15 (1-based), in clock ticks of 1/100 s on Linux.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	u := usage{cpu: time.Duration(utime+stime) * 10 * time.Millisecond}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			u.rss = kb << 10
		case "VmHWM":
			u.peakRSS = kb << 10
		}
	}
	return u
}
