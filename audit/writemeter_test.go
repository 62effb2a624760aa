package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
)

// signedRec is rec(n) at the sizes the gateway traces a signed busta: a 6.4 KB envelope (the
// WS-Security header with its certificate, three references and an RSA-2048 signature, the
// Intestazione, a 1 KB payload) and its 1.1 KB Intestazione, so that each row overflows a 4 KiB
// page as the gateway's rows do. The write path's cost depends on these sizes, not on the text.
func signedRec(n int) *Record {
	r := rec(n)
	t := signedTemplate()
	r.Header = []byte(t.header[0] + r.ID + t.header[1])
	r.Raw = []byte(t.env[0] + string(r.Header) + t.env[1])
	return r
}

// signedTemplate is signedRec's text around the Identificatore, made once.
var signedTemplate = sync.OnceValue(func() (t struct{ header, env [2]string }) {
	noise := func(seed string, size int) string {
		var b bytes.Buffer
		for i := 0; b.Len() < size; i++ {
			h := sha256.Sum256([]byte(seed + "/" + strconv.Itoa(i)))
			b.Write(h[:])
		}
		return base64.StdEncoding.EncodeToString(b.Bytes()[:size])
	}
	t.header = [2]string{`<eGov_IT:Intestazione SOAP_ENV:actor="http://www.cnipa.it/eGov_it/portadominio" SOAP_ENV:mustUnderstand="1" ` +
		`xmlns:SOAP_ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:eGov_IT="http://www.cnipa.it/schemas/2003/eGovIT/Busta1_0/">` +
		`<eGov_IT:IntestazioneMessaggio><eGov_IT:Mittente><eGov_IT:IdentificativoParte tipo="SPC">Provincia</eGov_IT:IdentificativoParte></eGov_IT:Mittente>` +
		`<eGov_IT:Destinatario><eGov_IT:IdentificativoParte tipo="SPC">Ministero</eGov_IT:IdentificativoParte></eGov_IT:Destinatario>` +
		`<eGov_IT:ProfiloCollaborazione>EGOV_IT_ServizioSincrono</eGov_IT:ProfiloCollaborazione><eGov_IT:Servizio tipo="SPC">SchedaLavoratore</eGov_IT:Servizio>` +
		`<eGov_IT:Azione>Invia</eGov_IT:Azione><eGov_IT:Messaggio><eGov_IT:Identificatore>`,
		`</eGov_IT:Identificatore><eGov_IT:OraRegistrazione tempo="EGOV_IT_SPC">2026-11-28T09:15:00.000</eGov_IT:OraRegistrazione></eGov_IT:Messaggio>` +
			`<eGov_IT:ProfiloTrasmissione confermaRicezione="false" inoltro="EGOV_IT_ALPIUUNAVOLTA"/></eGov_IT:IntestazioneMessaggio></eGov_IT:Intestazione>`}
	t.env = [2]string{`<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>` +
		`<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">` +
		`<wsse:BinarySecurityToken>` + noise("cert", 908) + `</wsse:BinarySecurityToken>` +
		`<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>` +
		`<ds:Reference URI="#id-Body"><ds:DigestValue>` + noise("d1", 32) + `</ds:DigestValue></ds:Reference>` +
		`<ds:Reference URI="#id-Intestazione"><ds:DigestValue>` + noise("d2", 32) + `</ds:DigestValue></ds:Reference>` +
		`<ds:Reference URI="#id-Timestamp"><ds:DigestValue>` + noise("d3", 32) + `</ds:DigestValue></ds:Reference>` +
		`</ds:SignedInfo><ds:SignatureValue>` + noise("sig", 256) + `</ds:SignatureValue></ds:Signature></wsse:Security>`,
		`</soap:Header><soap:Body><lav:Scheda xmlns:lav="urn:lavoro">` + noise("payload", 2200) + `</lav:Scheda></soap:Body></soap:Envelope>`}
	return t
})

// writeMeter measures what a benchmark's writes cost the process: CPU (user and system), bytes
// and calls given to write(2) and pwrite(2) (/proc/self/io: the WAL frames and the checkpoints'
// copies), and the transactions committed by the writers of the stores it watches.
type writeMeter struct {
	commits       atomic.Int64
	cpu0          time.Duration
	wchar0, sysw0 int64
}

// watch counts the commits of s's writer connection (SQLite only).
func (m *writeMeter) watch(b *testing.B, s *Store) {
	if s.wconn == nil {
		return
	}
	err := s.wconn.Raw(func(dc any) error {
		dc.(*sqlite3.SQLiteConn).RegisterCommitHook(func() int { m.commits.Add(1); return 0 })
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func (m *writeMeter) start() {
	m.commits.Store(0)
	m.cpu0 = cpuTime()
	m.wchar0, m.sysw0 = procIO()
}

// report adds the figures per unit (record, exchange) of n units.
func (m *writeMeter) report(b *testing.B, n int, unit string) {
	cpu := cpuTime() - m.cpu0
	wchar, sysw := procIO()
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/"+unit)
	if wchar > 0 {
		b.ReportMetric(float64(wchar-m.wchar0)/1024/float64(n), "written-KiB/"+unit)
		b.ReportMetric(float64(sysw-m.sysw0)/float64(n), "writes/"+unit)
	}
	if c := m.commits.Load(); c > 0 {
		b.ReportMetric(float64(c)/float64(n), "commits/"+unit)
	}
}

// procIO returns the bytes and calls this process gave to write(2) and its kind so far (0, 0
// where /proc/self/io is not readable).
func procIO() (wchar, syscw int64) {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, 0
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(": "))
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(string(v), 10, 64)
		switch string(k) {
		case "wchar":
			wchar = n
		case "syscw":
			syscw = n
		}
	}
	return wchar, syscw
}

func TestSignedRecSizes(t *testing.T) {
	r := signedRec(7)
	if len(r.Raw) < 6400 || len(r.Header) < 1000 {
		t.Fatalf("signedRec: envelope %d bytes, header %d: want the sizes of a signed busta", len(r.Raw), len(r.Header))
	}
	if !bytes.Contains(r.Raw, []byte(fmt.Sprintf(">%s<", r.ID))) {
		t.Fatal("signedRec: the envelope does not carry the record's Identificatore")
	}
	if _, err := StripBody(r.Raw); err != nil {
		t.Fatal(err)
	}
}
