package envelope

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"porta/internal/testenv"
	"porta/internal/xmlsafe"
	"porta/xsd"
)

// update rewrites the golden files under ../testdata/envelope.
var update = flag.Bool("update", false, "rewrite golden files under ../testdata/envelope")

// rome is a fixed +01:00 zone standing in for Europe/Rome in winter, so tests need no tzdata.
var rome = time.FixedZone("CET", 3600)

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05.000", s, rome)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr[T any](v T) *T { return &v }

const samplePayload = `<?xml version="1.0" encoding="UTF-8"?>
<sap:SchedaLavoratore xmlns:sap="urn:porta:test:sap"><sap:CodiceFiscale>RSSMRA85T10A562S</sap:CodiceFiscale></sap:SchedaLavoratore>`

var (
	provincia = Party{Type: "SPC", Name: "ProvinciaTorino"}
	regione   = Party{Type: "SPC", Name: "RegionePiemonte"}
	idReq     = "ProvinciaTorino_ProvinciaTorinoSPCoopIT_0000001_2026-11-28_09:30"
	idResp    = "RegionePiemonte_RegionePiemonteSPCoopIT_0000042_2026-11-28_09:31"
)

// goldenCases are the buste of the round trips: every profile, with and without riscontri,
// eccezioni, sequence, expiry and trasmissioni.
func goldenCases() []struct {
	name string
	h    *Header
	body string
} {
	return []struct {
		name string
		h    *Header
		body string
	}{
		{"oneway", &Header{
			Sender: []Party{provincia}, Receiver: regione, Profile: OneWay,
			ServiceType: "SPC", Service: "SchedaLavoratore", Action: "Invia",
			ID: idReq, Time: Timestamp{at("2026-11-28 09:30:12.345"), TimeSPC},
			Transmission: &Transmission{AtMostOnce: true, AckRequested: true},
		}, samplePayload},
		{"oneway-riscontri-scadenza", &Header{
			Sender: []Party{provincia}, Receiver: regione, Profile: OneWay,
			ServiceType: "SPC", Service: "SchedaLavoratore", Action: "Invia",
			ID: idReq, Time: Timestamp{at("2026-11-28 09:30:12.000"), TimeLocal},
			Expires:      ptr(at("2026-11-29 09:30:00.000")),
			Transmission: &Transmission{},
			Acks: []Ack{
				{ID: "RegionePiemonte_RegionePiemonteSPCoopIT_0000007_2026-11-28_09:01", Time: Timestamp{at("2026-11-28 09:01:00.500"), TimeSPC}},
				{ID: "RegionePiemonte_RegionePiemonteSPCoopIT_0000008_2026-11-28_09:02", Time: Timestamp{at("2026-11-28 09:02:00.000"), TimeLocal}},
			},
		}, samplePayload},
		{"sync-request", &Header{
			Sender: []Party{provincia}, Receiver: regione, Profile: Sync,
			ServiceType: "SPC", Service: "ConsultaDID", Action: "Consulta",
			ID: idReq, Time: Timestamp{at("2026-11-28 09:30:00.000"), TimeSPC},
		}, samplePayload},
		{"sync-response", &Header{
			Sender: []Party{regione}, Receiver: provincia, Profile: Sync,
			ServiceType: "SPC", Service: "ConsultaDID", Action: "Consulta",
			ID: idResp, Time: Timestamp{at("2026-11-28 09:31:00.001"), TimeSPC}, RelatesTo: idReq,
			Transmission: &Transmission{AtMostOnce: true},
		}, samplePayload},
		{"async-symmetric-sequenza-trasmissioni", &Header{
			Sender:   []Party{{Type: "SPC", Name: "ProvinciaTorino", Address: "https://pdd.provincia.torino.it/pa"}},
			Receiver: regione, Profile: AsyncSymmetric,
			CorrelatedService: "RicevutaComunicazione", CorrelatedServiceType: "SPC",
			Conversation: idReq, ServiceType: "SPC", Service: "Comunicazione", Action: "Invia",
			ID: "ProvinciaTorino_ProvinciaTorinoSPCoopIT_0000002_2026-11-28_09:30", Time: Timestamp{at("2026-11-28 09:30:01.000"), TimeSPC},
			Transmission: &Transmission{AtMostOnce: true, AckRequested: true}, Sequence: 2,
			Transmissions: []Hop{
				{Origin: provincia, Destination: Party{Type: "SPC", Name: "NodoRegionale"}, Time: Timestamp{at("2026-11-28 09:30:01.100"), TimeSPC}},
				{Origin: Party{Type: "SPC", Name: "NodoRegionale"}, Destination: regione, Time: Timestamp{at("2026-11-28 09:30:01.200"), TimeSPC}},
			},
		}, samplePayload},
		{"async-asymmetric-eccezioni", &Header{
			Sender: []Party{regione}, Receiver: provincia, Profile: AsyncAsymmetric,
			CorrelatedService: "StatoEstrazione", CorrelatedServiceType: "SPC",
			Conversation: idReq, ServiceType: "TEST", Service: "Estrazione", Action: "Richiedi",
			ID: idResp, Time: Timestamp{at("2026-11-28 09:31:00.000"), TimeSPC}, RelatesTo: idReq,
			Exceptions: []Exception{
				{Context: ContextValidation, Code: CodeTimeTransparencyUnsupported, Severity: SeverityInfo, Position: "Sequenza"},
				{Context: ContextValidation, Code: CodeInvalidAcks, Severity: SeverityMinor, Position: "ListaRiscontri"},
			},
		}, ""},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("..", "testdata", "envelope", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./envelope -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n got: %s\nwant: %s", name, got, want)
	}
}

func build(t *testing.T, h *Header, body string) []byte {
	t.Helper()
	doc, err := Wrap(h, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	doc.Indent(1)
	b, err := Bytes(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	set := openXSD(t)
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			b := build(t, tc.h, tc.body)
			golden(t, tc.name+".xml", b)
			doc, err := xmlsafe.Parse(b, xmlsafe.DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := ParseDocument(doc)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			got, err := ParseHeaderIn(msg.Intestazione, rome)
			if err != nil {
				t.Fatalf("parse header: %v", err)
			}
			if !reflect.DeepEqual(got, tc.h) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, tc.h)
			}
			if tc.body == "" && len(msg.Body.ChildElements()) != 0 {
				t.Errorf("empty payload gave a Body with %d elements", len(msg.Body.ChildElements()))
			}
			if tc.body != "" && (len(msg.Body.ChildElements()) != 1 || msg.Body.ChildElements()[0].Tag != "SchedaLavoratore") {
				t.Errorf("payload not in the Body")
			}
			if err := CheckSchema(set, msg.Intestazione); err != nil {
				t.Errorf("our schema: %v", err)
			}
			xmllintReference(t, msg.Intestazione)
		})
	}
}

// Replies: riscontro, error busta and faults are golden too, and parse back.
func TestReplyGoldens(t *testing.T) {
	req := goldenCases()[0].h
	now := at("2026-11-28 09:31:00.000")
	ack := AckHeader(req, idResp, now)
	golden(t, "riscontro.xml", indent(t, NewEnvelope(ack)))
	eh := ErrorHeader(req, regione, idResp, now, NewError(CodeInvalidID, "Messaggio/Identificatore", "x").Exceptions)
	golden(t, "error-busta.xml", indent(t, ErrorBusta(eh)))
	unknown := ErrorHeader(nil, regione, idResp, now, NewError(CodeHeaderFormat, "Intestazione/actor", "x").Exceptions)
	golden(t, "error-busta-sconosciuto.xml", indent(t, ErrorBusta(unknown)))
	golden(t, "fault-client.xml", indent(t, BareFault()))
	golden(t, "fault-server.xml", indent(t, ProcessingFault("database unavailable")))
	set := openXSD(t)
	for _, h := range []*Header{ack, eh, unknown} {
		if err := CheckSchema(set, h.Element()); err != nil {
			t.Errorf("%s: our schema: %v", h.ID, err)
		}
		xmllintReference(t, h.Element())
	}
}

func indent(t *testing.T, doc *etree.Document) []byte {
	doc.Indent(1)
	b, err := Bytes(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func openXSD(t *testing.T) *xsd.Set {
	t.Helper()
	s, err := xsd.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// referenceDir is ../shared/spec/reference from the repository root; absent, the test skips, or
// fails under CI.
func referenceDir(t *testing.T) string {
	t.Helper()
	return filepath.Dir(testenv.Shared(t, "spec", "reference", "Busta.xsd"))
}

// xmllintReference validates the Intestazione alone with xmllint against the reference schema.
func xmllintReference(t *testing.T, in *etree.Element) {
	t.Helper()
	ref := referenceDir(t)
	xmllint := testenv.Xmllint(t)
	b, err := StandaloneHeader(in)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "intestazione.xml")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(xmllint, "--noout", "--schema", filepath.Join(ref, "Busta.xsd"), f).CombinedOutput()
	if err != nil {
		t.Errorf("xmllint --schema Busta.xsd: %v\n%s\n%s", err, out, b)
	}
}

// sampleA is spec §7 sample A, verbatim.
const sampleA = `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<soapenv:Header>
	 <eGov_IT:Intestazione SOAP_ENV:actor="http://www.cnipa.it/eGov_it/portadominio" SOAP_ENV:mustUnderstand="1" xmlns:SOAP_ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:eGov_IT="http://www.cnipa.it/schemas/2003/eGovIT/Busta1_0/">
   <eGov_IT:IntestazioneMessaggio>
    <eGov_IT:Mittente>
	    <eGov_IT:IdentificativoParte tipo="SPC">MinisteroFruitoreLineeGuida</eGov_IT:IdentificativoParte>
    </eGov_IT:Mittente>
    <eGov_IT:Destinatario>
	    <eGov_IT:IdentificativoParte tipo="SPC">MinisteroErogatoreLineeGuida</eGov_IT:IdentificativoParte>
    </eGov_IT:Destinatario>
    <eGov_IT:ProfiloCollaborazione>EGOV_IT_MessaggioSingoloOneWay</eGov_IT:ProfiloCollaborazione>
    <eGov_IT:Servizio tipo="SPC">ComunicazioneVariazione</eGov_IT:Servizio>
    <eGov_IT:Azione>Affidabile</eGov_IT:Azione>
    <eGov_IT:Messaggio>
	    <eGov_IT:Identificatore>MinisteroFruitoreLineeGuida_MinisteroFruitoreLineeGuidaSPCoopIT_2411206_2005-11-10_11:35</eGov_IT:Identificatore>
	    <eGov_IT:OraRegistrazione tempo="EGOV_IT_SPC">2005-11-10T12:35:35</eGov_IT:OraRegistrazione>
    </eGov_IT:Messaggio>
    <eGov_IT:ProfiloTrasmissione confermaRicezione="false" inoltro="EGOV_IT_ALPIUUNAVOLTA"/>
   </eGov_IT:IntestazioneMessaggio>
   <eGov_IT:ListaRiscontri>
    <eGov_IT:Riscontro>
         <eGov_IT:Identificatore>MinisteroFruitore_MinisteroFruitoreSPCoopIT_2411206_2005-11-10_11:35</eGov_IT:Identificatore>
         <eGov_IT:OraRegistrazione tempo="EGOV_IT_SPC">2005-11-10T12:35:35</eGov_IT:OraRegistrazione>
    </eGov_IT:Riscontro>
   </eGov_IT:ListaRiscontri>
  </eGov_IT:Intestazione>
 </soapenv:Header>
 <soapenv:Body>
	 <ns1:getQuote soapenv:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" xmlns:ns1="urn:xmethods-delayed-quotes">
   <symbol xmlns="" xmlns:se="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/1999/XMLSchema-instance">IBM</symbol>
  </ns1:getQuote>
 </soapenv:Body>
</soapenv:Envelope>`

func TestSampleA(t *testing.T) {
	msg, err := Parse([]byte(sampleA))
	if err != nil {
		t.Fatal(err)
	}
	want := &Header{
		Sender:   []Party{{Type: "SPC", Name: "MinisteroFruitoreLineeGuida"}},
		Receiver: Party{Type: "SPC", Name: "MinisteroErogatoreLineeGuida"},
		Profile:  OneWay, ServiceType: "SPC", Service: "ComunicazioneVariazione", Action: "Affidabile",
		ID:           "MinisteroFruitoreLineeGuida_MinisteroFruitoreLineeGuidaSPCoopIT_2411206_2005-11-10_11:35",
		Time:         Timestamp{time.Date(2005, 11, 10, 12, 35, 35, 0, time.Local), TimeSPC},
		Transmission: &Transmission{AtMostOnce: true},
		Acks: []Ack{{ID: "MinisteroFruitore_MinisteroFruitoreSPCoopIT_2411206_2005-11-10_11:35",
			Time: Timestamp{time.Date(2005, 11, 10, 12, 35, 35, 0, time.Local), TimeSPC}}},
	}
	if !reflect.DeepEqual(msg.Header, want) {
		t.Errorf("sample A:\n got %+v\nwant %+v", msg.Header, want)
	}
	if msg.Body.ChildElements()[0].Tag != "getQuote" {
		t.Errorf("Body = %v", msg.Body.ChildElements())
	}
	if err := CheckSchema(openXSD(t), msg.Intestazione); err != nil {
		t.Errorf("our schema refuses sample A: %v", err)
	}
	if err := ValidateIDOwner(msg.Header.ID, "ministerofruitorelineeguida", ""); err != nil {
		t.Errorf("owner (case-insensitive): %v", err)
	}
}

func TestTimes(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		err  string
	}{
		{"2005-11-10T12:35:35", time.Date(2005, 11, 10, 12, 35, 35, 0, rome), ""},
		{"2005-11-10T12:35:35.5", time.Date(2005, 11, 10, 12, 35, 35, 500e6, rome), ""},
		{"2005-11-10T12:35:35.123456789", time.Date(2005, 11, 10, 12, 35, 35, 123456789, rome), ""},
		{"2005-11-10T12:35:35Z", time.Date(2005, 11, 10, 12, 35, 35, 0, time.UTC), ""},
		{"2005-11-10T12:35:35.250+02:00", time.Date(2005, 11, 10, 10, 35, 35, 250e6, time.UTC), ""},
		{" 2005-11-10T12:35:35 ", time.Date(2005, 11, 10, 12, 35, 35, 0, rome), ""},
		{"2005-11-10 12:35:35", time.Time{}, "want yyyy-MM-ddTHH:mm:ss"},
		{"2005-11-10T12:35", time.Time{}, "want yyyy-MM-ddTHH:mm:ss"},
		{"2005-13-10T12:35:35", time.Time{}, "month out of range"},
		{"2005-02-30T12:35:35", time.Time{}, "day out of range"},
		{"2005-11-10T25:35:35", time.Time{}, "hour out of range"},
		{"2005-11-10T12:35:35.", time.Time{}, "bad fraction"},
		{"2005-11-10T12:35:35.x", time.Time{}, "bad fraction"},
		{"2005-11-10T12:35:35+0200", time.Time{}, "bad zone"},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in, rome)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), strings.TrimSpace(tt.in)) {
				t.Errorf("ParseTime(%q) error = %v, want one naming the value and %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if s := FormatTime(at("2026-01-02 03:04:05.006")); s != "2026-01-02T03:04:05.006" {
		t.Errorf("FormatTime = %s", s)
	}
}

func TestWrapPayloadErrors(t *testing.T) {
	for _, p := range []string{`<a/><b/>`, `<a>`, `<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`, `text`} {
		if _, err := Wrap(&Header{}, []byte(p)); err == nil || !strings.HasPrefix(err.Error(), "payload: ") {
			t.Errorf("Wrap(%q) error = %v, want a payload error", p, err)
		}
	}
	doc, err := Wrap(&Header{}, []byte(" \n\t"))
	if err != nil || len(doc.FindElements("//Body/*")) != 0 {
		t.Errorf("white-space payload: %v", err)
	}
}
