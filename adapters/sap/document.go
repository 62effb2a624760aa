package sap

import "encoding/xml"

// The SAP document (xsd/schemas/labour/sap.xsd, root lavoratore, no namespace), written by hand:
// gowsdl reads WSDLs only, and in the servizicoap WSDL the SAP is an xs:string. Only the parts
// Porta fills are declared; element order follows the schema. Dates are aaaa-mm-gg strings.

// Lavoratore is the root element.
type Lavoratore struct {
	XMLName            xml.Name            `xml:"lavoratore"`
	DatiInvio          DatiInvio           `xml:"datiinvio"`
	DatiAnagrafici     *DatiAnagrafici     `xml:"datianagrafici,omitempty"`
	DatiAmministrativi *DatiAmministrativi `xml:"datiamministrativi,omitempty"`
	Esperienze         *EsperienzeLst      `xml:"esperienzelavoro_lst,omitempty"`
	LivelliIstruzione  *LivelliIstruzione  `xml:"livelliistruzione_lst,omitempty"`
	Allegato           *Allegato           `xml:"allegato,omitempty"`
}

// DatiInvio is the sending data (section 0).
type DatiInvio struct {
	DataUltimoAgg     string `xml:"dataultimoagg"`
	IdentificativoSAP string `xml:"identificativosap,omitempty"`
	CodiceEnteTit     string `xml:"codiceentetit"`
	TipoVariazione    string `xml:"tipovariazione"`
	DataDiNascita     string `xml:"datadinascita"`
}

// DatiAnagrafici is section 1.
type DatiAnagrafici struct {
	DatiPersonali DatiPersonali `xml:"datipersonali"`
	Residenza     *Indirizzo    `xml:"residenza,omitempty"`
	Domicilio     Indirizzo     `xml:"domicilio"`
	Recapiti      Recapiti      `xml:"recapiti"`
}

// DatiPersonali are the personal data; all required.
type DatiPersonali struct {
	CodiceFiscale   string `xml:"codicefiscale"`
	Cognome         string `xml:"cognome"`
	Nome            string `xml:"nome"`
	Sesso           string `xml:"sesso"`
	DataNascita     string `xml:"datanascita"`
	CodComune       string `xml:"codcomune"`
	CodCittadinanza string `xml:"codcittadinanza"`
}

// Indirizzo is a residence or domicile.
type Indirizzo struct {
	CodComune string `xml:"codcomune"`
	Cap       string `xml:"cap"`
	Indirizzo string `xml:"indirizzo,omitempty"`
	Localita  string `xml:"localita,omitempty"`
}

// Recapiti are the contacts.
type Recapiti struct {
	Telefono  string `xml:"telefono,omitempty"`
	Cellulare string `xml:"cellulare,omitempty"`
	Fax       string `xml:"fax,omitempty"`
	Email     string `xml:"email,omitempty"`
}

// DatiAmministrativi is section 2.
type DatiAmministrativi struct {
	StatoInAnagrafe StatoInAnagrafe `xml:"statoinanagrafe"`
	AltreNotizie    *AltreNotizie   `xml:"altrenotizie,omitempty"`
}

// StatoInAnagrafe is the administrative state.
type StatoInAnagrafe struct {
	CodStatoOccupazionale string `xml:"codstatooccupazionale"`
	Anzianita             *int   `xml:"anzianita,omitempty"`
	IndiceProfiling       string `xml:"indiceprofiling,omitempty"`
	DataEvento            string `xml:"dataevento,omitempty"`
	Disponibilita         string `xml:"disponibilita,omitempty"`
}

// AltreNotizie are other facts.
type AltreNotizie struct {
	CategorieProtette string `xml:"categorieprotette,omitempty"`
}

// EsperienzeLst is section 3.
type EsperienzeLst struct {
	Esperienza []Esperienza `xml:"esperienzalavoro"`
}

// Esperienza is one work experience.
type Esperienza struct {
	Azienda        Azienda       `xml:"azienda"`
	DataInizio     string        `xml:"datainizio"`
	DataFine       string        `xml:"datafine,omitempty"`
	CodProfessione string        `xml:"codprofessione"`
	Compiti        string        `xml:"compiti,omitempty"`
	TipoRapporto   *TipoRapporto `xml:"tiporapporto,omitempty"`
	LuogoLavoro    *LuogoLavoro  `xml:"luogolavoro,omitempty"`
}

// Azienda is the employer.
type Azienda struct {
	CodiceFiscale    string `xml:"codicefiscale"`
	DatoreLavoro     string `xml:"datorelavoro"`
	IndirizzoAzienda string `xml:"indirizzoazienda,omitempty"`
	CodAteco         string `xml:"codateco,omitempty"`
}

// TipoRapporto is the kind of contract.
type TipoRapporto struct {
	TipoContratto string `xml:"tipocontratto"`
}

// LuogoLavoro is the workplace.
type LuogoLavoro struct {
	CodComune string `xml:"codcomune"`
}

// LivelliIstruzione is section 4.
type LivelliIstruzione struct {
	Cod []string `xml:"codlivelloistruzione"`
}

// Allegato is section 5.
type Allegato struct {
	TitoliStudio    *TitoliStudio    `xml:"titolistudio_lst,omitempty"`
	LingueStraniere *LingueStraniere `xml:"linguestraniere_lst,omitempty"`
}

// TitoliStudio lists qualifications.
type TitoliStudio struct {
	Titolo []TitoloStudio `xml:"titolostudio"`
}

// TitoloStudio is one qualification.
type TitoloStudio struct {
	CodLivello         string `xml:"codlivelloistruzione"`
	CorsoStudio        string `xml:"corsostudio,omitempty"`
	Descrizione        string `xml:"descrizionecorsostudio,omitempty"`
	CodComuneFrequenza string `xml:"codcomunefrequenza,omitempty"`
	Votazione          string `xml:"votazione,omitempty"`
	AnnoTermine        string `xml:"annotermine,omitempty"`
}

// LingueStraniere lists languages.
type LingueStraniere struct {
	Lingua []LinguaStraniera `xml:"linguastraniera"`
}

// LinguaStraniera is one language.
type LinguaStraniera struct {
	CodLingua string `xml:"codlingua"`
	Letto     string `xml:"codlivelloletto,omitempty"`
	Scritto   string `xml:"codlivelloscritto,omitempty"`
	Parlato   string `xml:"codlivelloparlato,omitempty"`
}
