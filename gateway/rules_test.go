package gateway

import (
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"porta/envelope"
)

// The tests of this file hold one table per rule group of spec §10 ("How the reference
// implementation answers malformed buste" and "More rules from the same suite"). Each row is a
// busta and the exact answer of the Porta Applicativa: the kind (a bare fault, an error busta, or
// accepted), every Eccezione as "code rilevanza posizione" (order not significant), and for error
// buste whom they are addressed to.

// Kinds of answer.
const (
	answerBare  = "bare fault"
	answerError = "error busta"
	answerOK    = "accepted"
)

// ruleRow is one busta and the answer the reference gateway gives it.
type ruleRow struct {
	name string
	data func(t *testing.T) []byte
	kind string
	want []string // "EGOV_IT_NNN RILEVANZA posizione"
	to   string   // Destinatario of the error busta; "" for the sender, Provincia
	// toType is the Destinatario's tipo, when the row checks it.
	toType string
}

// paAnswer is an answer of the Porta Applicativa, read back.
type paAnswer struct {
	kind   string
	exc    []string
	to     string
	toType string
	body   string
}

// readPAAnswer classifies an answer and checks the fault every refusal carries (spec §10: always
// soap:Client with "EGOV_IT_001 - Formato Busta non corretto", whatever the codes).
func readPAAnswer(t *testing.T, status int, body string) paAnswer {
	t.Helper()
	a := paAnswer{body: body}
	if status == http.StatusOK {
		a.kind = answerOK
		return a
	}
	if status != http.StatusInternalServerError {
		t.Fatalf("status %d, want 200 or 500\n%s", status, body)
	}
	doc := parseSOAP(t, body)
	fs, fc := doc.FindElement("//Fault/faultstring"), doc.FindElement("//Fault/faultcode")
	if fs == nil || fs.Text() != envelope.FaultStringFormat || fc == nil || !strings.HasSuffix(fc.Text(), ":Client") {
		t.Errorf("fault %v / %v, want soap:Client / %q\n%s", fc, fs, envelope.FaultStringFormat, body)
	}
	if doc.FindElement("//Fault/detail") != nil {
		t.Errorf("the validation fault carries a detail:\n%s", body)
	}
	if doc.FindElement("//Intestazione") == nil {
		a.kind = answerBare
		return a
	}
	a.kind = answerError
	for _, e := range doc.FindElements("//ListaEccezioni/Eccezione") {
		a.exc = append(a.exc, e.SelectAttrValue("codiceEccezione", "")+" "+e.SelectAttrValue("rilevanza", "")+" "+e.SelectAttrValue("posizione", ""))
	}
	sort.Strings(a.exc)
	if d := doc.FindElement("//Destinatario/IdentificativoParte"); d != nil {
		a.to, a.toType = d.Text(), d.SelectAttrValue("tipo", "")
	}
	return a
}

// runRules posts each row's busta to the Ministero's Porta Applicativa and compares the answer.
func runRules(t *testing.T, n *network, rows []ruleRow) {
	t.Helper()
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			before := n.min.be.count()
			status, body := postPA(t, n.prov, n.min, tc.data(t))
			a := readPAAnswer(t, status, body)
			if a.kind != tc.kind {
				t.Fatalf("answer is a %s, want a %s\n%s", a.kind, tc.kind, a.body)
			}
			if tc.kind == answerOK {
				return
			}
			if n.min.be.count() != before {
				t.Error("a refused busta reached the backend")
			}
			if tc.kind != answerError {
				return
			}
			want := append([]string(nil), tc.want...)
			sort.Strings(want)
			if strings.Join(a.exc, "\n") != strings.Join(want, "\n") {
				t.Errorf("ListaEccezioni\n got %q\nwant %q\n%s", a.exc, want, a.body)
			}
			to := tc.to
			if to == "" {
				to = prov
			}
			if a.to != to {
				t.Errorf("error busta addressed to %q, want %q", a.to, to)
			}
			if tc.toType != "" && a.toType != tc.toType {
				t.Errorf("error busta addressed to tipo %q, want %q (never the wrong one the busta named)", a.toType, tc.toType)
			}
		})
	}
}

// edited crafts an unsigned busta (mutate as craft) and applies old→new replacements, each of
// which must match; an old starting with "re:" is a regular expression.
func edited(t *testing.T, n *network, mutate func(h *envelope.Header), pairs ...string) []byte {
	t.Helper()
	s := string(craft(t, n, mutate, nil, nil))
	for i := 0; i+1 < len(pairs); i += 2 {
		old, repl := pairs[i], pairs[i+1]
		if re, ok := strings.CutPrefix(old, "re:"); ok {
			rx := regexp.MustCompile(re)
			if !rx.MatchString(s) {
				t.Fatalf("test bug: %q matches nothing in\n%s", re, s)
			}
			s = rx.ReplaceAllString(s, repl)
			continue
		}
		if !strings.Contains(s, old) {
			t.Fatalf("test bug: %q not in\n%s", old, s)
		}
		s = strings.Replace(s, old, repl, 1)
	}
	return []byte(s)
}

// Pieces of a crafted busta, as envelope.NewEnvelope writes it.
const (
	openIntestazione  = `<eGov_IT:Intestazione `
	closeIntestazione = `</eGov_IT:Intestazione>`
	actorAttr         = `SOAP_ENV:actor="http://www.cnipa.it/eGov_it/portadominio"`
	mustAttr          = `SOAP_ENV:mustUnderstand="1"`
	eGovNSDecl        = `xmlns:eGov_IT="http://www.cnipa.it/schemas/2003/eGovIT/Busta1_0/"`
	wholeIntestazione = `re:(?s)<eGov_IT:Intestazione .*</eGov_IT:Intestazione>`
	wholeIM           = `re:(?s)<eGov_IT:IntestazioneMessaggio>.*</eGov_IT:IntestazioneMessaggio>`
)

// TestRulesRecognisingTheHeader: a SOAP header element is an attempted eGov header when it
// carries the eGov actor or is in the eGov namespace; under another name it gets 001
// Intestazione, without IntestazioneMessaggio 002 IntestazioneMessaggio, both from the gateway
// to Sconosciuto; an element in neither is no eGov header (bare fault).
func TestRulesRecognisingTheHeader(t *testing.T) {
	n := newNetwork(t)
	rows := []ruleRow{
		{name: "eGov namespace, another name", data: func(t *testing.T) []byte {
			return edited(t, n, nil, openIntestazione, `<eGov_IT:Testata `, closeIntestazione, `</eGov_IT:Testata>`)
		}, kind: answerError, want: []string{"EGOV_IT_001 GRAVE Intestazione"}, to: envelope.Unknown.Name},
		{name: "eGov actor, another namespace and name", data: func(t *testing.T) []byte {
			return edited(t, n, nil, openIntestazione, `<x:Testata xmlns:x="urn:altro" `, closeIntestazione, `</x:Testata>`)
		}, kind: answerError, want: []string{"EGOV_IT_001 GRAVE Intestazione"}, to: envelope.Unknown.Name},
		{name: "eGov actor, Intestazione in another namespace", data: func(t *testing.T) []byte {
			return edited(t, n, nil, eGovNSDecl, `xmlns:eGov_IT="http://www.cnipa.it/schemas/2003/eGovIT/Busta1_1/"`)
		}, kind: answerError, want: []string{"EGOV_IT_002 GRAVE Intestazione/namespace"}},
		{name: "Intestazione in another namespace without the actor", data: func(t *testing.T) []byte {
			return edited(t, n, nil, eGovNSDecl, `xmlns:eGov_IT="urn:altro"`, actorAttr+" ", "")
		}, kind: answerBare},
		{name: "another header element only", data: func(t *testing.T) []byte {
			return edited(t, n, nil, wholeIntestazione, `<x:Intestazione xmlns:x="urn:altro"/>`)
		}, kind: answerBare},
		{name: "no IntestazioneMessaggio", data: func(t *testing.T) []byte {
			return edited(t, n, nil, wholeIM, "")
		}, kind: answerError, want: []string{"EGOV_IT_002 GRAVE IntestazioneMessaggio"}, to: envelope.Unknown.Name},
		{name: "two eGov headers", data: func(t *testing.T) []byte {
			return edited(t, n, nil, wholeIntestazione, "$0$0")
		}, kind: answerError, want: []string{"EGOV_IT_001 GRAVE Più di un header e-Gov presente"}},
	}
	runRules(t, n, rows)
}

// TestRulesActorAndMustUnderstand: actor and mustUnderstand must be qualified by the SOAP
// envelope namespace; unprefixed they are missing, one 002 each, each problem reported once.
func TestRulesActorAndMustUnderstand(t *testing.T) {
	n := newNetwork(t)
	rows := []ruleRow{
		{name: "unprefixed actor", data: func(t *testing.T) []byte {
			return edited(t, n, nil, actorAttr, `actor="http://www.cnipa.it/eGov_it/portadominio"`)
		}, kind: answerError, want: []string{"EGOV_IT_002 GRAVE Intestazione/actor"}},
		{name: "unprefixed mustUnderstand", data: func(t *testing.T) []byte {
			return edited(t, n, nil, mustAttr, `mustUnderstand="1"`)
		}, kind: answerError, want: []string{"EGOV_IT_002 GRAVE Intestazione/mustUnderstand"}},
		{name: "both unprefixed", data: func(t *testing.T) []byte {
			return edited(t, n, nil, actorAttr, `actor="http://www.cnipa.it/eGov_it/portadominio"`, mustAttr, `mustUnderstand="1"`)
		}, kind: answerError, want: []string{"EGOV_IT_002 GRAVE Intestazione/actor", "EGOV_IT_002 GRAVE Intestazione/mustUnderstand"}},
		{name: "no actor, mustUnderstand 0", data: func(t *testing.T) []byte {
			return edited(t, n, nil, actorAttr+" ", "", mustAttr, `SOAP_ENV:mustUnderstand="0"`)
		}, kind: answerError, want: []string{"EGOV_IT_002 GRAVE Intestazione/actor", "EGOV_IT_002 GRAVE Intestazione/mustUnderstand"}},
		{name: "another actor", data: func(t *testing.T) []byte {
			return edited(t, n, nil, actorAttr, `SOAP_ENV:actor="http://example.org/pdd"`)
		}, kind: answerError, want: []string{"EGOV_IT_002 GRAVE Intestazione/actor"}},
	}
	runRules(t, n, rows)
}

// TestRulesPartyTypesAndAddresses: Mittente and Destinatario are checked against the registry,
// tipo included, and an indirizzoTelematico must be an absolute URL.
func TestRulesPartyTypesAndAddresses(t *testing.T) {
	n := newNetwork(t)
	signer := n.prov.signer(t)
	rows := []ruleRow{
		{name: "Destinatario tipo not the registered one", data: func(t *testing.T) []byte {
			return edited(t, n, func(h *envelope.Header) { h.Receiver.Type = "TEST" })
		}, kind: answerError, want: []string{"EGOV_IT_102 GRAVE Destinatario/IdentificativoParte/tipo"}},
		{name: "Destinatario not hosted here", data: func(t *testing.T) []byte {
			return edited(t, n, func(h *envelope.Header) { h.Receiver.Name = "Regione" })
		}, kind: answerError, want: []string{"EGOV_IT_102 GRAVE Destinatario/IdentificativoParte"}},
		{name: "Mittente indirizzoTelematico not a URL", data: func(t *testing.T) []byte {
			return edited(t, n, func(h *envelope.Header) { h.Sender[0].Address = "pdd-provincia" })
		}, kind: answerError, want: []string{"EGOV_IT_101 GRAVE Mittente/IdentificativoParte/indirizzoTelematico"}},
		{name: "Destinatario indirizzoTelematico relative", data: func(t *testing.T) []byte {
			return edited(t, n, func(h *envelope.Header) { h.Receiver.Address = "/pa" })
		}, kind: answerError, want: []string{"EGOV_IT_102 GRAVE Destinatario/IdentificativoParte/indirizzoTelematico"}},
		{name: "Mittente indirizzoTelematico an absolute URL", data: func(t *testing.T) []byte {
			return craft(t, n, func(h *envelope.Header) { h.Sender[0].Address = "https://pdd.provincia.example/pa" }, signer, nil)
		}, kind: answerOK},
	}
	runRules(t, n, rows)
}

// TestRulesLists: ListaTrasmissioni is validated like the parties, each problem a 116 with the
// full path; an empty ListaRiscontri is 115 ListaRiscontri/Riscontro; a Riscontro whose
// OraRegistrazione lacks tempo is structural.
func TestRulesLists(t *testing.T) {
	n := newNetwork(t)
	now := envelope.Timestamp{Time: time.Now(), Source: envelope.TimeSPC}
	hop := func(origin, dest envelope.Party) func(h *envelope.Header) {
		return func(h *envelope.Header) {
			h.Transmissions = []envelope.Hop{{Origin: origin, Destination: dest, Time: now}}
		}
	}
	p := envelope.Party{Type: "SPC", Name: prov}
	m := envelope.Party{Type: "SPC", Name: min_}
	ack := func(h *envelope.Header) {
		h.Acks = []envelope.Ack{{ID: "Ministero_MinisteroSPCoopIT_0000001_2026-01-01_10:00", Time: now}}
	}
	const pos = "ListaTrasmissioni/Trasmissione/"
	rows := []ruleRow{
		{name: "empty ListaTrasmissioni", data: func(t *testing.T) []byte {
			return edited(t, n, hop(p, m), `re:(?s)<eGov_IT:ListaTrasmissioni>.*</eGov_IT:ListaTrasmissioni>`, `<eGov_IT:ListaTrasmissioni/>`)
		}, kind: answerError, want: []string{"EGOV_IT_116 GRAVE ListaTrasmissioni/Trasmissione"}},
		{name: "Origine unknown", data: func(t *testing.T) []byte {
			return edited(t, n, hop(envelope.Party{Type: "SPC", Name: "Regione"}, m))
		}, kind: answerError, want: []string{"EGOV_IT_116 GRAVE " + pos + "Origine/IdentificativoParte"}},
		{name: "Destinazione tipo not the registered one", data: func(t *testing.T) []byte {
			return edited(t, n, hop(p, envelope.Party{Type: "TEST", Name: min_}))
		}, kind: answerError, want: []string{"EGOV_IT_116 GRAVE " + pos + "Destinazione/IdentificativoParte/tipo"}},
		{name: "Origine indirizzoTelematico not a URL", data: func(t *testing.T) []byte {
			return edited(t, n, hop(envelope.Party{Type: "SPC", Name: prov, Address: "provincia"}, m))
		}, kind: answerError, want: []string{"EGOV_IT_116 GRAVE " + pos + "Origine/IdentificativoParte/indirizzoTelematico"}},
		{name: "two parties in Destinazione", data: func(t *testing.T) []byte {
			return edited(t, n, hop(p, m), `re:(<eGov_IT:Destinazione>)(<eGov_IT:IdentificativoParte[^>]*>[^<]*</eGov_IT:IdentificativoParte>)`, "$1$2$2")
		}, kind: answerError, want: []string{"EGOV_IT_116 GRAVE " + pos + "Destinazione/IdentificativoParte"}},
		{name: "every problem of the list", data: func(t *testing.T) []byte {
			return edited(t, n, func(h *envelope.Header) {
				h.Transmissions = []envelope.Hop{
					{Origin: envelope.Party{Type: "SPC", Name: "Regione"}, Destination: envelope.Party{Type: "TEST", Name: min_}, Time: now},
					{Origin: p, Destination: envelope.Party{Type: "SPC", Name: min_, Address: "ministero"}, Time: now},
				}
			})
		}, kind: answerError, want: []string{"EGOV_IT_116 GRAVE " + pos + "Origine/IdentificativoParte", "EGOV_IT_116 GRAVE " + pos + "Destinazione/IdentificativoParte/tipo",
			"EGOV_IT_116 GRAVE " + pos + "Destinazione/IdentificativoParte/indirizzoTelematico"}},
		{name: "Trasmissione without OraRegistrazione", data: func(t *testing.T) []byte {
			return edited(t, n, hop(p, m), `re:(?s)(</eGov_IT:Destinazione>)<eGov_IT:OraRegistrazione.*?</eGov_IT:OraRegistrazione>`, "$1")
		}, kind: answerBare},
		{name: "registered parties", data: func(t *testing.T) []byte {
			return craft(t, n, hop(p, envelope.Party{Type: "SPC", Name: min_, Address: "https://pdd.ministero.example/pa"}), n.prov.signer(t), nil)
		}, kind: answerOK},
		{name: "empty ListaRiscontri", data: func(t *testing.T) []byte {
			return edited(t, n, ack, `re:(?s)<eGov_IT:ListaRiscontri>.*</eGov_IT:ListaRiscontri>`, `<eGov_IT:ListaRiscontri/>`)
		}, kind: answerError, want: []string{"EGOV_IT_115 GRAVE ListaRiscontri/Riscontro"}},
		{name: "Riscontro OraRegistrazione without tempo", data: func(t *testing.T) []byte {
			return edited(t, n, ack, `re:(<eGov_IT:Riscontro>.*?<eGov_IT:OraRegistrazione) tempo="EGOV_IT_SPC"`, "$1")
		}, kind: answerBare},
		{name: "Riscontro OraRegistrazione with another tempo", data: func(t *testing.T) []byte {
			return edited(t, n, ack, `re:(<eGov_IT:Riscontro>.*?<eGov_IT:OraRegistrazione) tempo="EGOV_IT_SPC"`, `$1 tempo="UTC"`)
		}, kind: answerError, want: []string{"EGOV_IT_115 GRAVE ListaRiscontri/Riscontro/OraRegistrazione/tempo"}},
	}
	runRules(t, n, rows)
}

// TestRulesPosizioneWording: posizione strings are compared exactly, the registry mismatch text
// included.
func TestRulesPosizioneWording(t *testing.T) {
	n := newNetwork(t)
	rows := []ruleRow{
		{name: "profile other than the registered one", data: func(t *testing.T) []byte {
			return edited(t, n, func(h *envelope.Header) { h.Profile = envelope.OneWay })
		}, kind: answerError, want: []string{"EGOV_IT_103 GRAVE ProfiloCollaborazione diverso da quanto specificato nel registro"}},
		{name: "profile not an eGov profile", data: func(t *testing.T) []byte {
			return edited(t, n, nil, "EGOV_IT_ServizioSincrono", "EGOV_IT_Broadcast")
		}, kind: answerError, want: []string{"EGOV_IT_103 GRAVE ProfiloCollaborazione"}},
		{name: "unknown child of Messaggio", data: func(t *testing.T) []byte {
			return edited(t, n, nil, `</eGov_IT:Messaggio>`, `<eGov_IT:Priorita>alta</eGov_IT:Priorita></eGov_IT:Messaggio>`)
		}, kind: answerError, want: []string{"EGOV_IT_002 GRAVE Messaggio/child[eGov_IT:Priorita]"}},
		{name: "Servizio tipo not the registered one", data: func(t *testing.T) []byte {
			return edited(t, n, func(h *envelope.Header) { h.ServiceType = "TEST" })
		}, kind: answerError, want: []string{"EGOV_IT_105 GRAVE Servizio/tipo"}},
	}
	runRules(t, n, rows)
}

// TestRulesEveryHeaderProblem: the stages that read only the header are all run and their
// problems answered together, each once; structural defects still end at once with a bare
// fault, and the later stages (signature) are reached only by a header without problems.
func TestRulesEveryHeaderProblem(t *testing.T) {
	n := newNetwork(t)
	past := time.Now().Add(-time.Minute)
	rows := []ruleRow{
		{name: "Mittente tipo wrong, Identificatore built from it", data: func(t *testing.T) []byte {
			return edited(t, n, func(h *envelope.Header) { h.Sender[0].Type = "TEST" })
		}, kind: answerError, want: []string{"EGOV_IT_101 GRAVE Mittente/IdentificativoParte/tipo", "EGOV_IT_110 GRAVE Messaggio/Identificatore"}, toType: "SPC"},
		{name: "unknown Mittente, Destinatario not hosted", data: func(t *testing.T) []byte {
			return edited(t, n, func(h *envelope.Header) { h.Sender[0].Name, h.Receiver.Name = "Ignoto", "Regione" })
		}, kind: answerError, want: []string{"EGOV_IT_101 GRAVE Mittente/IdentificativoParte", "EGOV_IT_102 GRAVE Destinatario/IdentificativoParte"}, to: "Ignoto"},
		{name: "unknown service, Scadenza past", data: func(t *testing.T) []byte {
			return edited(t, n, func(h *envelope.Header) { h.Service, h.Expires = "Catasto", &past })
		}, kind: answerError, want: []string{"EGOV_IT_105 GRAVE Servizio", "EGOV_IT_301 GRAVE Messaggio/Scadenza"}},
		{name: "bad tempo, unknown action, profile mismatch", data: func(t *testing.T) []byte {
			return edited(t, n, func(h *envelope.Header) { h.Action, h.Profile = "Cancella", envelope.OneWay }, `tempo="EGOV_IT_SPC"`, `tempo="UTC"`)
		}, kind: answerError, want: []string{"EGOV_IT_108 GRAVE Messaggio/OraRegistrazione/tempo", "EGOV_IT_106 GRAVE Azione"}},
		{name: "invalid Identificatore reported once", data: func(t *testing.T) []byte {
			return edited(t, n, nil, `re:_(\d{7})_`, "_12_")
		}, kind: answerError, want: []string{"EGOV_IT_110 GRAVE Messaggio/Identificatore"}},
		{name: "asynchronous request: Collaborazione and RiferimentoMessaggio", data: func(t *testing.T) []byte {
			return edited(t, n, func(h *envelope.Header) {
				h.Profile, h.Service, h.Action = envelope.AsyncAsymmetric, "Stampa", "Stampa"
				h.RelatesTo = "Ministero_MinisteroSPCoopIT_0999999_2026-01-01_10:00"
			})
		}, kind: answerError, want: []string{"EGOV_IT_104 GRAVE Collaborazione", "EGOV_IT_111 GRAVE Messaggio/RiferimentoMessaggio"}},
		{name: "header problem and no signature: the header only", data: func(t *testing.T) []byte {
			return edited(t, n, func(h *envelope.Header) { h.Service = "Catasto" })
		}, kind: answerError, want: []string{"EGOV_IT_105 GRAVE Servizio"}},
		{name: "sound header, no signature", data: func(t *testing.T) []byte {
			return edited(t, n, nil)
		}, kind: answerError, want: []string{"EGOV_IT_200 GRAVE Security"}},
		{name: "no Mittente: structural", data: func(t *testing.T) []byte {
			return edited(t, n, func(h *envelope.Header) { h.Service = "Catasto" }, `re:(?s)<eGov_IT:Mittente>.*</eGov_IT:Mittente>`, "")
		}, kind: answerBare},
	}
	runRules(t, n, rows)
}

// TestRulesIncomingErrorBuste: a busta carrying ListaEccezioni is an answer: it gets no fault
// (HTTP 200, nothing delivered) but its Body must be the soap:Client "EGOV_IT_001 - Formato
// Busta non corretto" fault, else the receiver records 003; what it carries and the 003 are in
// the trace.
func TestRulesIncomingErrorBuste(t *testing.T) {
	n := newNetwork(t)
	signer := n.prov.signer(t)
	carried := []envelope.Exception{
		{Context: envelope.ContextValidation, Code: envelope.CodeUnknownReceiver, Severity: envelope.SeveritySevere, Position: "Destinatario/IdentificativoParte"},
		{Context: envelope.ContextValidation, Code: envelope.CodeTimeTransparencyUnsupported, Severity: envelope.SeverityInfo, Position: "Sequenza"},
	}
	fault := func(ns, code, text string) *etree.Element {
		f := etree.NewElement("soapenv:Fault")
		fc := f.CreateElement("faultcode")
		fc.CreateAttr("xmlns:f", ns)
		fc.SetText("f:" + code)
		f.CreateElement("faultstring").SetText(text)
		return f
	}
	payload := etree.NewElement("Esito")
	payload.CreateAttr("xmlns", "urn:test")
	errorBusta := func(exc []envelope.Exception, keepService bool) func(h *envelope.Header) {
		return func(h *envelope.Header) {
			if !keepService {
				h.Profile, h.ServiceType, h.Service, h.Action = envelope.ProfileNone, "", "", ""
			}
			h.Exceptions = exc
		}
	}
	const p3 = "EGOV_IT_003 GRAVE "
	tests := []struct {
		name     string
		mutate   func(h *envelope.Header)
		body     *etree.Element
		recorded []string // the trace's exceptions: carried, then this gateway's 003
		outcome  string
	}{
		{"the eGov fault", errorBusta(carried, false), fault(envelope.NSSOAP, "Client", envelope.FaultStringFormat),
			[]string{"EGOV_IT_102 GRAVE Destinatario/IdentificativoParte", "EGOV_IT_401 INFO Sequenza"}, OutcomeReceived},
		{"the eGov fault, service and profile copied from the request", errorBusta(carried, true), fault(envelope.NSSOAP, "Client", envelope.FaultStringFormat),
			[]string{"EGOV_IT_102 GRAVE Destinatario/IdentificativoParte", "EGOV_IT_401 INFO Sequenza"}, OutcomeReceived},
		{"another faultstring", errorBusta(carried, false), fault(envelope.NSSOAP, "Client", "Errore"),
			[]string{"EGOV_IT_102 GRAVE Destinatario/IdentificativoParte", "EGOV_IT_401 INFO Sequenza", p3 + envelope.PosErrorFaultString}, OutcomeError},
		{"soap:Server", errorBusta(carried, false), fault(envelope.NSSOAP, "Server", envelope.FaultStringFormat),
			[]string{"EGOV_IT_102 GRAVE Destinatario/IdentificativoParte", "EGOV_IT_401 INFO Sequenza", p3 + envelope.PosErrorFaultCode}, OutcomeError},
		{"Client outside the SOAP namespace, another faultstring", errorBusta(carried, false), fault("urn:altro", "Client", "x"),
			[]string{"EGOV_IT_102 GRAVE Destinatario/IdentificativoParte", "EGOV_IT_401 INFO Sequenza", p3 + envelope.PosErrorFaultCode, p3 + envelope.PosErrorFaultString}, OutcomeError},
		{"no fault", errorBusta(carried, false), payload.Copy(),
			[]string{"EGOV_IT_102 GRAVE Destinatario/IdentificativoParte", "EGOV_IT_401 INFO Sequenza", p3 + envelope.PosErrorFault}, OutcomeError},
		{"INFO only, no fault, from an eGov 1.1 sender", errorBusta(carried[1:], false), payload.Copy(),
			[]string{"EGOV_IT_401 INFO Sequenza", p3 + envelope.PosErrorFault}, OutcomeError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := craftBody(t, n, tc.mutate, tc.body, signer, nil)
			msg, err := envelope.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			before := n.min.be.count()
			status, body := postPA(t, n.prov, n.min, data)
			if status != http.StatusOK || body != "" {
				t.Fatalf("status %d, want 200 with an empty body\n%s", status, body)
			}
			if n.min.be.count() != before {
				t.Error("an error busta reached the backend")
			}
			var rec *Record
			for _, r := range n.min.store.traces() {
				if r.Direction == Inbound && r.Header != nil && r.Header.ID == msg.Header.ID {
					rec = r
				}
			}
			if rec == nil {
				t.Fatal("the error busta is not traced")
			}
			var got []string
			for _, x := range rec.Exceptions {
				got = append(got, string(x.Code)+" "+string(x.Severity)+" "+x.Position)
			}
			if strings.Join(got, "\n") != strings.Join(tc.recorded, "\n") {
				t.Errorf("traced exceptions\n got %q\nwant %q", got, tc.recorded)
			}
			if rec.Outcome != tc.outcome || rec.HTTPStatus != http.StatusOK {
				t.Errorf("traced outcome %s, HTTP %d; want %s, 200", rec.Outcome, rec.HTTPStatus, tc.outcome)
			}
			if !strings.Contains(rec.Detail, "error busta carrying") {
				t.Errorf("trace detail %q does not say what the busta carried", rec.Detail)
			}
		})
	}
}
