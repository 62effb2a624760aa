package envelope

import (
	"errors"
	"sort"
	"strings"
	"testing"
)

// base is a valid one-way busta (spec sample A without riscontri); the table below breaks it.
const base = `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
<soapenv:Header>
<eGov_IT:Intestazione SOAP_ENV:actor="http://www.cnipa.it/eGov_it/portadominio" SOAP_ENV:mustUnderstand="1" xmlns:SOAP_ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:eGov_IT="http://www.cnipa.it/schemas/2003/eGovIT/Busta1_0/">
<eGov_IT:IntestazioneMessaggio>
<eGov_IT:Mittente><eGov_IT:IdentificativoParte tipo="SPC">Fruitore</eGov_IT:IdentificativoParte></eGov_IT:Mittente>
<eGov_IT:Destinatario><eGov_IT:IdentificativoParte tipo="SPC">Erogatore</eGov_IT:IdentificativoParte></eGov_IT:Destinatario>
<eGov_IT:ProfiloCollaborazione>EGOV_IT_MessaggioSingoloOneWay</eGov_IT:ProfiloCollaborazione>
<eGov_IT:Servizio tipo="SPC">Comunicazione</eGov_IT:Servizio>
<eGov_IT:Azione>Invia</eGov_IT:Azione>
<eGov_IT:Messaggio>
<eGov_IT:Identificatore>Fruitore_FruitoreSPCoopIT_0000001_2005-11-10_11:35</eGov_IT:Identificatore>
<eGov_IT:OraRegistrazione tempo="EGOV_IT_SPC">2005-11-10T12:35:35</eGov_IT:OraRegistrazione>
</eGov_IT:Messaggio>
<eGov_IT:ProfiloTrasmissione confermaRicezione="false" inoltro="EGOV_IT_ALPIUUNAVOLTA"/>
</eGov_IT:IntestazioneMessaggio>
</eGov_IT:Intestazione>
</soapenv:Header>
<soapenv:Body><x:p xmlns:x="urn:x"/></soapenv:Body>
</soapenv:Envelope>`

const (
	mittente     = `<eGov_IT:Mittente><eGov_IT:IdentificativoParte tipo="SPC">Fruitore</eGov_IT:IdentificativoParte></eGov_IT:Mittente>`
	destinatario = `<eGov_IT:Destinatario><eGov_IT:IdentificativoParte tipo="SPC">Erogatore</eGov_IT:IdentificativoParte></eGov_IT:Destinatario>`
	id           = `<eGov_IT:Identificatore>Fruitore_FruitoreSPCoopIT_0000001_2005-11-10_11:35</eGov_IT:Identificatore>`
	ora          = `<eGov_IT:OraRegistrazione tempo="EGOV_IT_SPC">2005-11-10T12:35:35</eGov_IT:OraRegistrazione>`
	trasm        = `<eGov_IT:ProfiloTrasmissione confermaRicezione="false" inoltro="EGOV_IT_ALPIUUNAVOLTA"/>`
	endIM        = `</eGov_IT:IntestazioneMessaggio>`
	endMsg       = `</eGov_IT:Messaggio>`
	servizio     = `<eGov_IT:Servizio tipo="SPC">Comunicazione</eGov_IT:Servizio>`
	azione       = `<eGov_IT:Azione>Invia</eGov_IT:Azione>`
	profilo      = `<eGov_IT:ProfiloCollaborazione>EGOV_IT_MessaggioSingoloOneWay</eGov_IT:ProfiloCollaborazione>`
	goodRef      = "Erogatore_ErogatoreSPCoopIT_0000009_2005-11-10_11:30"
	intestazione = `<eGov_IT:Intestazione SOAP_ENV:actor="http://www.cnipa.it/eGov_it/portadominio" SOAP_ENV:mustUnderstand="1" xmlns:SOAP_ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:eGov_IT="http://www.cnipa.it/schemas/2003/eGovIT/Busta1_0/">`
)

// edit applies old→new replacements (each must match) to base.
func edit(t *testing.T, pairs ...string) string {
	t.Helper()
	s := base
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("test bug: %q not in the base busta", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

// secondHeader is base's Intestazione again, whole.
func secondHeader() string {
	inner := strings.SplitN(strings.SplitN(base, intestazione, 2)[1], "</eGov_IT:Intestazione>", 2)[0]
	return intestazione + inner + "</eGov_IT:Intestazione>"
}

func TestParseValidBase(t *testing.T) {
	if _, err := Parse([]byte(base)); err != nil {
		t.Fatal(err)
	}
}

// TestParseMalformed covers the malformed buste of spec §10: every exception is reported with
// its code and exact posizione, and Bare says whether the answer is a bare fault.
func TestParseMalformed(t *testing.T) {
	tests := []struct {
		name  string
		edits []string
		want  []string // "EGOV_IT_NNN posizione"
		bare  bool
	}{
		// (a) bare faults: the header cannot be read
		{"no eGov header", []string{intestazione, `<x:Other xmlns:x="urn:x" xmlns:eGov_IT="` + NSeGov + `">`, `</eGov_IT:Intestazione>`, `</x:Other>`}, []string{"EGOV_IT_001 Intestazione"}, true},
		{"not SOAP", []string{`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">`, `<soapenv:Envelope xmlns:soapenv="http://www.w3.org/2003/05/soap-envelope">`}, []string{"EGOV_IT_001 Envelope"}, true},
		{"not well-formed", []string{`</soapenv:Envelope>`, `</soapenv:Envelop>`}, []string{"EGOV_IT_001 Envelope"}, true},
		{"no Mittente", []string{mittente, ""}, []string{"EGOV_IT_101 Mittente"}, true},
		{"no Destinatario", []string{destinatario, ""}, []string{"EGOV_IT_102 Destinatario"}, true},
		{"empty IntestazioneMessaggio", []string{mittente, "", destinatario, "", profilo, "", servizio, "", azione, "", trasm, "", "<eGov_IT:Messaggio>\n" + id + "\n" + ora + "\n" + endMsg, ""},
			[]string{"EGOV_IT_101 Mittente", "EGOV_IT_102 Destinatario", "EGOV_IT_002 Messaggio"}, true},
		{"Mittente without IdentificativoParte", []string{mittente, `<eGov_IT:Mittente/>`}, []string{"EGOV_IT_101 Mittente/IdentificativoParte"}, true},
		{"Mittente without tipo", []string{`<eGov_IT:IdentificativoParte tipo="SPC">Fruitore`, `<eGov_IT:IdentificativoParte>Fruitore`}, []string{"EGOV_IT_101 Mittente/IdentificativoParte/tipo"}, true},
		{"Destinatario without tipo", []string{`<eGov_IT:IdentificativoParte tipo="SPC">Erogatore`, `<eGov_IT:IdentificativoParte>Erogatore`}, []string{"EGOV_IT_102 Destinatario/IdentificativoParte/tipo"}, true},
		{"Servizio without tipo", []string{servizio, `<eGov_IT:Servizio>Comunicazione</eGov_IT:Servizio>`}, []string{"EGOV_IT_105 Servizio/tipo"}, true},
		{"no Messaggio", []string{"<eGov_IT:Messaggio>\n" + id + "\n" + ora + "\n" + endMsg, ""}, []string{"EGOV_IT_002 Messaggio"}, true},
		{"no Identificatore", []string{id, ""}, []string{"EGOV_IT_107 Messaggio/Identificatore"}, true},
		{"Sequenza without numeroProgressivo", []string{trasm, `<eGov_IT:ProfiloTrasmissione confermaRicezione="true" inoltro="EGOV_IT_ALPIUUNAVOLTA"/><eGov_IT:Sequenza/>`, profilo, profilo + `<eGov_IT:Collaborazione>Fruitore_FruitoreSPCoopIT_0000001_2005-11-10_11:35</eGov_IT:Collaborazione>`}, []string{"EGOV_IT_114 Sequenza/numeroProgressivo"}, true},
		{"Riscontro without Identificatore", []string{endIM + "\n", endIM + `<eGov_IT:ListaRiscontri><eGov_IT:Riscontro>` + ora + `</eGov_IT:Riscontro></eGov_IT:ListaRiscontri>`}, []string{"EGOV_IT_115 ListaRiscontri/Riscontro/Identificatore"}, true},
		{"Trasmissione without Origine", []string{endIM + "\n", endIM + `<eGov_IT:ListaTrasmissioni><eGov_IT:Trasmissione><eGov_IT:Destinazione><eGov_IT:IdentificativoParte tipo="SPC">A</eGov_IT:IdentificativoParte></eGov_IT:Destinazione>` + ora + `</eGov_IT:Trasmissione></eGov_IT:ListaTrasmissioni>`}, []string{"EGOV_IT_116 ListaTrasmissioni/Trasmissione/Origine"}, true},
		{"duplicated Identificatore", []string{id, id + id}, []string{"EGOV_IT_110 Messaggio/Identificatore"}, true},
		{"duplicated Servizio", []string{servizio, servizio + servizio}, []string{"EGOV_IT_105 Servizio"}, true},

		// (b) error busta: value-level defects, actor, mustUnderstand, namespace
		{"two eGov headers", []string{"</eGov_IT:Intestazione>", "</eGov_IT:Intestazione>" + secondHeader()}, []string{"EGOV_IT_001 Più di un header e-Gov presente"}, false},
		{"no actor, mustUnderstand 0", []string{` SOAP_ENV:actor="http://www.cnipa.it/eGov_it/portadominio" SOAP_ENV:mustUnderstand="1"`, ` SOAP_ENV:mustUnderstand="0"`}, []string{"EGOV_IT_002 Intestazione/actor", "EGOV_IT_002 Intestazione/mustUnderstand"}, false},
		{"wrong actor", []string{`SOAP_ENV:actor="http://www.cnipa.it/eGov_it/portadominio"`, `SOAP_ENV:actor="http://example.org/x"`}, []string{"EGOV_IT_002 Intestazione/actor"}, false},
		{"actor without namespace", []string{`SOAP_ENV:actor=`, `actor=`}, []string{"EGOV_IT_002 Intestazione/actor"}, false},
		{"no mustUnderstand", []string{` SOAP_ENV:mustUnderstand="1"`, ``}, []string{"EGOV_IT_002 Intestazione/mustUnderstand"}, false},
		{"wrong namespace", []string{`xmlns:eGov_IT="http://www.cnipa.it/schemas/2003/eGovIT/Busta1_0/"`, `xmlns:eGov_IT="http://www.cnipa.it/schemas/2003/eGovIT/Busta1_1/"`}, []string{"EGOV_IT_002 Intestazione/namespace"}, false},
		{"four senders", []string{mittente, `<eGov_IT:Mittente><eGov_IT:IdentificativoParte tipo="SPC">Fruitore</eGov_IT:IdentificativoParte><eGov_IT:IdentificativoParte tipo="SPC">B</eGov_IT:IdentificativoParte><eGov_IT:IdentificativoParte tipo="SPC">C</eGov_IT:IdentificativoParte><eGov_IT:IdentificativoParte tipo="SPC">D</eGov_IT:IdentificativoParte></eGov_IT:Mittente>`},
			[]string{"EGOV_IT_101 Mittente/IdentificativoParte", "EGOV_IT_101 Mittente/IdentificativoParte", "EGOV_IT_101 Mittente/IdentificativoParte"}, false},
		{"two receivers", []string{destinatario, `<eGov_IT:Destinatario><eGov_IT:IdentificativoParte tipo="SPC">Erogatore</eGov_IT:IdentificativoParte><eGov_IT:IdentificativoParte tipo="SPC">B</eGov_IT:IdentificativoParte></eGov_IT:Destinatario>`}, []string{"EGOV_IT_102 Destinatario/IdentificativoParte"}, false},
		{"empty sender name", []string{`tipo="SPC">Fruitore<`, `tipo="SPC"><`}, []string{"EGOV_IT_101 Mittente/IdentificativoParte"}, false},
		{"unknown profile", []string{"EGOV_IT_MessaggioSingoloOneWay", "EGOV_IT_Broadcast"}, []string{"EGOV_IT_103 ProfiloCollaborazione"}, false},
		{"bad correlated type", []string{profilo, `<eGov_IT:ProfiloCollaborazione tipo="FTP">EGOV_IT_MessaggioSingoloOneWay</eGov_IT:ProfiloCollaborazione>`}, []string{"EGOV_IT_103 ProfiloCollaborazione/tipo"}, false},
		{"bad Collaborazione", []string{profilo, profilo + `<eGov_IT:Collaborazione>Fruitore_Fruitore_SPCoopIT_0000001_2005-11-10_11:35</eGov_IT:Collaborazione>`}, []string{"EGOV_IT_104 Collaborazione"}, false},
		{"empty Servizio", []string{">Comunicazione<", "><"}, []string{"EGOV_IT_105 Servizio"}, false},
		{"empty Azione", []string{">Invia<", "><"}, []string{"EGOV_IT_106 Azione"}, false},
		{"Identificatore with underscore in party", []string{"Fruitore_FruitoreSPCoopIT_0000001", "Frui_tore_FruitoreSPCoopIT_0000001"}, []string{"EGOV_IT_110 Messaggio/Identificatore"}, false},
		{"Identificatore 6-digit counter", []string{"_0000001_2005", "_000001_2005"}, []string{"EGOV_IT_110 Messaggio/Identificatore"}, false},
		{"Identificatore year 2101", []string{"_0000001_2005-11-10_11:35", "_0000001_2101-11-10_11:35"}, []string{"EGOV_IT_110 Messaggio/Identificatore"}, false},
		{"Identificatore minute 60", []string{"_0000001_2005-11-10_11:35", "_0000001_2005-11-10_11:60"}, []string{"EGOV_IT_110 Messaggio/Identificatore"}, false},
		{"empty Identificatore", []string{id, `<eGov_IT:Identificatore/>`}, []string{"EGOV_IT_107 Messaggio/Identificatore"}, false},
		{"bad OraRegistrazione", []string{"2005-11-10T12:35:35<", "2005-11-31T12:35:35<"}, []string{"EGOV_IT_108 Messaggio/OraRegistrazione"}, false},
		{"no OraRegistrazione", []string{ora, ""}, []string{"EGOV_IT_108 Messaggio/OraRegistrazione"}, false},
		{"bad tempo", []string{`tempo="EGOV_IT_SPC"`, `tempo="UTC"`}, []string{"EGOV_IT_108 Messaggio/OraRegistrazione/tempo"}, false},
		{"no tempo", []string{` tempo="EGOV_IT_SPC"`, ``}, []string{"EGOV_IT_108 Messaggio/OraRegistrazione/tempo"}, false},
		{"bad RiferimentoMessaggio", []string{ora, ora + `<eGov_IT:RiferimentoMessaggio>nonsense</eGov_IT:RiferimentoMessaggio>`}, []string{"EGOV_IT_111 Messaggio/RiferimentoMessaggio"}, false},
		{"empty RiferimentoMessaggio", []string{ora, ora + `<eGov_IT:RiferimentoMessaggio/>`}, []string{"EGOV_IT_109 Messaggio/RiferimentoMessaggio"}, false},
		{"bad Scadenza", []string{ora, ora + `<eGov_IT:Scadenza>domani</eGov_IT:Scadenza>`}, []string{"EGOV_IT_112 Messaggio/Scadenza"}, false},
		{"bad inoltro", []string{`inoltro="EGOV_IT_ALPIUUNAVOLTA"`, `inoltro="SEMPRE"`}, []string{"EGOV_IT_113 ProfiloTrasmissione/inoltro"}, false},
		{"bad confermaRicezione", []string{`confermaRicezione="false"`, `confermaRicezione="no"`}, []string{"EGOV_IT_113 ProfiloTrasmissione/confermaRicezione"}, false},
		{"Sequenza not 7 digits", []string{trasm, `<eGov_IT:ProfiloTrasmissione confermaRicezione="true" inoltro="EGOV_IT_ALPIUUNAVOLTA"/><eGov_IT:Sequenza numeroProgressivo="12"/>`, profilo, profilo + `<eGov_IT:Collaborazione>Fruitore_FruitoreSPCoopIT_0000001_2005-11-10_11:35</eGov_IT:Collaborazione>`}, []string{"EGOV_IT_114 Sequenza/numeroProgressivo"}, false},
		{"Sequenza zero", []string{trasm, `<eGov_IT:ProfiloTrasmissione confermaRicezione="true" inoltro="EGOV_IT_ALPIUUNAVOLTA"/><eGov_IT:Sequenza numeroProgressivo="0000000"/>`, profilo, profilo + `<eGov_IT:Collaborazione>Fruitore_FruitoreSPCoopIT_0000001_2005-11-10_11:35</eGov_IT:Collaborazione>`}, []string{"EGOV_IT_114 Sequenza/numeroProgressivo"}, false},
		{"Sequenza without Collaborazione or ack", []string{trasm, trasm + `<eGov_IT:Sequenza numeroProgressivo="0000001"/>`}, []string{"EGOV_IT_114 Sequenza", "EGOV_IT_402 ProfiloTrasmissione"}, false},
		{"Riscontro with bad id and tempo", []string{endIM + "\n", endIM + `<eGov_IT:ListaRiscontri><eGov_IT:Riscontro><eGov_IT:Identificatore>x_y</eGov_IT:Identificatore><eGov_IT:OraRegistrazione tempo="X">2005-11-10T12:35:35</eGov_IT:OraRegistrazione></eGov_IT:Riscontro></eGov_IT:ListaRiscontri>`},
			[]string{"EGOV_IT_115 ListaRiscontri/Riscontro/Identificatore", "EGOV_IT_115 ListaRiscontri/Riscontro/OraRegistrazione/tempo"}, false},
		{"Trasmissione Origine without tipo", []string{endIM + "\n", endIM + `<eGov_IT:ListaTrasmissioni><eGov_IT:Trasmissione><eGov_IT:Origine><eGov_IT:IdentificativoParte>A</eGov_IT:IdentificativoParte></eGov_IT:Origine><eGov_IT:Destinazione><eGov_IT:IdentificativoParte tipo="SPC">B</eGov_IT:IdentificativoParte></eGov_IT:Destinazione>` + ora + `</eGov_IT:Trasmissione></eGov_IT:ListaTrasmissioni>`},
			[]string{"EGOV_IT_116 ListaTrasmissioni/Trasmissione/Origine/IdentificativoParte/tipo"}, false},
		{"empty ListaTrasmissioni", []string{endIM + "\n", endIM + `<eGov_IT:ListaTrasmissioni/>`}, []string{"EGOV_IT_116 ListaTrasmissioni/Trasmissione"}, false},
		{"empty ListaRiscontri", []string{endIM + "\n", endIM + `<eGov_IT:ListaRiscontri/>`}, []string{"EGOV_IT_115 ListaRiscontri/Riscontro"}, false},
		{"two parties in Origine", []string{endIM + "\n", endIM + `<eGov_IT:ListaTrasmissioni><eGov_IT:Trasmissione><eGov_IT:Origine><eGov_IT:IdentificativoParte tipo="SPC">A</eGov_IT:IdentificativoParte><eGov_IT:IdentificativoParte tipo="SPC">C</eGov_IT:IdentificativoParte></eGov_IT:Origine><eGov_IT:Destinazione><eGov_IT:IdentificativoParte tipo="SPC">B</eGov_IT:IdentificativoParte></eGov_IT:Destinazione>` + ora + `</eGov_IT:Trasmissione></eGov_IT:ListaTrasmissioni>`},
			[]string{"EGOV_IT_116 ListaTrasmissioni/Trasmissione/Origine/IdentificativoParte"}, false},
		{"Riscontro OraRegistrazione without tempo", []string{endIM + "\n", endIM + `<eGov_IT:ListaRiscontri><eGov_IT:Riscontro>` + id + `<eGov_IT:OraRegistrazione>2005-11-10T12:35:35</eGov_IT:OraRegistrazione></eGov_IT:Riscontro></eGov_IT:ListaRiscontri>`},
			[]string{"EGOV_IT_115 ListaRiscontri/Riscontro/OraRegistrazione/tempo"}, true},
		{"Mittente indirizzoTelematico not a URL", []string{`tipo="SPC">Fruitore<`, `tipo="SPC" indirizzoTelematico="fruitore">Fruitore<`}, []string{"EGOV_IT_101 Mittente/IdentificativoParte/indirizzoTelematico"}, false},
		{"Destinatario indirizzoTelematico not a URL", []string{`tipo="SPC">Erogatore<`, `tipo="SPC" indirizzoTelematico="http:/erogatore">Erogatore<`}, []string{"EGOV_IT_102 Destinatario/IdentificativoParte/indirizzoTelematico"}, false},
		{"actor and mustUnderstand without namespace", []string{`SOAP_ENV:actor=`, `actor=`, `SOAP_ENV:mustUnderstand=`, `mustUnderstand=`}, []string{"EGOV_IT_002 Intestazione/actor", "EGOV_IT_002 Intestazione/mustUnderstand"}, false},
		{"bad Eccezione", []string{endIM + "\n", endIM + `<eGov_IT:ListaEccezioni><eGov_IT:Eccezione contestoCodifica="c" codiceEccezione="EGOV_IT_999" rilevanza="ALTA"/></eGov_IT:ListaEccezioni>`},
			[]string{"EGOV_IT_002 ListaEccezioni/Eccezione/posizione", "EGOV_IT_002 ListaEccezioni/Eccezione/codiceEccezione", "EGOV_IT_002 ListaEccezioni/Eccezione/rilevanza"}, false},
		{"unknown child element", []string{ora, ora + `<eGov_IT:Priorita>alta</eGov_IT:Priorita>`}, []string{"EGOV_IT_002 Messaggio/child[eGov_IT:Priorita]"}, false},
		{"foreign child element", []string{azione, azione + `<x:Extra xmlns:x="urn:x"/>`}, []string{"EGOV_IT_002 IntestazioneMessaggio/child[x:Extra]"}, false},
		{"child in wrong namespace", []string{azione, `<a:Azione xmlns:a="urn:other">Invia</a:Azione>`}, []string{"EGOV_IT_002 IntestazioneMessaggio/child[a:Azione]"}, false},
		{"out of order", []string{servizio + "\n" + azione, azione + "\n" + servizio}, []string{"EGOV_IT_002 Servizio"}, false},
		{"unknown attribute", []string{`<eGov_IT:Azione>`, `<eGov_IT:Azione lingua="it">`}, []string{"EGOV_IT_002 Azione/lingua"}, false},
		{"text in a complex element", []string{"<eGov_IT:Messaggio>", "<eGov_IT:Messaggio>testo"}, []string{"EGOV_IT_002 Messaggio"}, false},
		{"every error at once", []string{"EGOV_IT_MessaggioSingoloOneWay", "X", `tempo="EGOV_IT_SPC"`, `tempo="Y"`, `inoltro="EGOV_IT_ALPIUUNAVOLTA"`, `inoltro="Z"`, "_0000001_2005", "_1_2005"},
			[]string{"EGOV_IT_103 ProfiloCollaborazione", "EGOV_IT_108 Messaggio/OraRegistrazione/tempo", "EGOV_IT_113 ProfiloTrasmissione/inoltro", "EGOV_IT_110 Messaggio/Identificatore"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := Parse([]byte(edit(t, tt.edits...)))
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error = %T %v, want *ProtocolError", err, err)
			}
			if pe.Bare != tt.bare {
				t.Errorf("Bare = %v, want %v (%v)", pe.Bare, tt.bare, pe)
			}
			var got []string
			for _, x := range pe.Exceptions {
				got = append(got, string(x.Code)+" "+x.Position)
				if x.Severity != SeveritySevere || x.Context != ContextValidation {
					t.Errorf("exception %+v: want GRAVE in %s", x, ContextValidation)
				}
			}
			if tt.want != nil {
				sort.Strings(got)
				want := append([]string(nil), tt.want...)
				sort.Strings(want)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("exceptions:\n got %q\nwant %q\n(%v)", got, want, pe)
				}
			}
			if !tt.bare && (msg == nil || msg.Header == nil || len(msg.Header.Sender) == 0) {
				t.Errorf("an error busta case must keep the header to address the reply")
			}
			if pe.Error() == "" || !strings.HasPrefix(pe.Error(), "EGOV_IT_") {
				t.Errorf("Error() = %q", pe.Error())
			}
		})
	}
}

// An attempted eGov header that cannot be read as a busta (another local name, no
// IntestazioneMessaggio) is an error busta to Sconosciuto, not a bare fault: the Header is
// returned empty of parties (spec §10, "Recognising the header").
func TestParseAttemptedHeader(t *testing.T) {
	tests := []struct {
		name  string
		edits []string
		want  string
	}{
		{"eGov namespace, another name", []string{"<eGov_IT:Intestazione ", "<eGov_IT:Testata ", "</eGov_IT:Intestazione>", "</eGov_IT:Testata>"}, "EGOV_IT_001 Intestazione"},
		{"eGov actor, another namespace", []string{"<eGov_IT:Intestazione ", `<x:Busta xmlns:x="urn:x" `, "</eGov_IT:Intestazione>", "</x:Busta>"}, "EGOV_IT_001 Intestazione"},
		{"no IntestazioneMessaggio", []string{"<eGov_IT:IntestazioneMessaggio>", "<!--", endIM, "-->"}, "EGOV_IT_002 IntestazioneMessaggio"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := Parse([]byte(edit(t, tt.edits...)))
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Bare {
				t.Fatalf("Parse error = %v, want a ProtocolError that is not Bare", err)
			}
			if len(pe.Exceptions) != 1 || string(pe.Exceptions[0].Code)+" "+pe.Exceptions[0].Position != tt.want {
				t.Errorf("exceptions %v, want %s", pe.Exceptions, tt.want)
			}
			if msg == nil || msg.Header == nil || len(msg.Header.Sender) != 0 {
				t.Errorf("header %+v, want one without parties", msg)
			}
		})
	}
}

// Invalid values are not carried in the returned header, so they are never echoed back.
func TestParseDropsInvalidValues(t *testing.T) {
	msg, err := Parse([]byte(edit(t, "Fruitore_FruitoreSPCoopIT_0000001", "Fru_itore_FruitoreSPCoopIT_0000001")))
	if err == nil {
		t.Fatal("no error")
	}
	if msg.Header.ID != "" {
		t.Errorf("invalid ID kept: %q", msg.Header.ID)
	}
	if msg.Header.Sender[0].Name != "Fruitore" || msg.Header.Receiver.Name != "Erogatore" {
		t.Errorf("parties lost: %+v", msg.Header)
	}
}

func TestProtocolError(t *testing.T) {
	e := NewError(CodeInvalidSignature, "Security/Signature", "digest of #Body does not match")
	if got := e.Error(); got != "EGOV_IT_117 Security/Signature: digest of #Body does not match" {
		t.Errorf("Error() = %q", got)
	}
	if e.Code() != CodeInvalidSignature || e.Processing() || e.Bare {
		t.Errorf("Code %v Processing %v Bare %v", e.Code(), e.Processing(), e.Bare)
	}
	p := NewError(CodeProcessing, "", "database down")
	if !p.Processing() || p.Exceptions[0].Context != ContextProcessing {
		t.Errorf("300: %+v", p)
	}
	if x := NewError(CodeExpired, "Messaggio/Scadenza", "expired").Exceptions[0]; x.Context != ContextProcessing || x.Severity != SeveritySevere {
		t.Errorf("301: %+v", x)
	}
	codes := Codes()
	if len(codes) != 33 || codes[0] != CodeEnvelopeFormat || codes[len(codes)-1] != CodeInvalidTransmissionAttrs {
		t.Errorf("Codes() = %v", codes)
	}
	for _, c := range codes {
		if c.Meaning() == "" {
			t.Errorf("%s has no meaning", c)
		}
	}
	if CodeEnvelopeFormat.Meaning() != "Formato Busta non corretto" || Code("EGOV_IT_500").Valid() {
		t.Error("meanings")
	}
}

func TestProfiles(t *testing.T) {
	for _, p := range []Profile{OneWay, Sync, AsyncSymmetric, AsyncAsymmetric} {
		for _, s := range []string{p.String(), p.WireName()} {
			got, err := ParseProfile(s)
			if err != nil || got != p {
				t.Errorf("ParseProfile(%q) = %v, %v", s, got, err)
			}
		}
		b, _ := p.MarshalText()
		var q Profile
		if err := q.UnmarshalText(b); err != nil || q != p {
			t.Errorf("text round trip of %v: %v %v", p, q, err)
		}
	}
	if _, err := ParseProfile("broadcast"); err == nil || !strings.Contains(err.Error(), "broadcast") {
		t.Errorf("ParseProfile(broadcast) error = %v", err)
	}
	if Sync.String() != "sync" || AsyncAsymmetric.WireName() != "EGOV_IT_ServizioAsincronoAsimmetrico" {
		t.Error("names")
	}
}
