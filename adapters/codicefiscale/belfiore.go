package codicefiscale

// Place is a comune (or foreign state) with its Belfiore (cadastral) code.
type Place struct {
	Name     string
	Province string // sigla; "EE" for a foreign state
	Code     string // Belfiore code, e.g. H501
	Capital  bool   // capoluogo di provincia
}

// Places is a small table of real Belfiore codes: the provincial capitals of several regions,
// a few other towns of their provinces and a few foreign states, from the ISTAT "Elenco comuni
// italiani" (column "Codice Catastale del comune") and the Agenzia delle Entrate list of foreign
// states. It feeds the synthetic data; it is not a complete list and must not be used to reject
// a code that is missing from it.
func Places() []Place {
	out := make([]Place, len(places))
	copy(out, places)
	return out
}

// Lookup returns the place with the given Belfiore code, if the table has it.
func Lookup(code string) (Place, bool) {
	for _, p := range places {
		if p.Code == code {
			return p, true
		}
	}
	return Place{}, false
}

var places = []Place{
	// Emilia-Romagna
	{"Bologna", "BO", "A944", true},
	{"Imola", "BO", "E289", false},
	{"Casalecchio di Reno", "BO", "B880", false},
	{"Modena", "MO", "F257", true},
	{"Carpi", "MO", "B819", false},
	{"Sassuolo", "MO", "I462", false},
	{"Reggio nell'Emilia", "RE", "H223", true},
	{"Parma", "PR", "G337", true},
	{"Piacenza", "PC", "G535", true},
	{"Ferrara", "FE", "D548", true},
	{"Ravenna", "RA", "H199", true},
	{"Faenza", "RA", "D458", false},
	{"Forlì", "FC", "D704", true},
	{"Cesena", "FC", "C573", false},
	{"Rimini", "RN", "H294", true},
	// Lazio
	{"Roma", "RM", "H501", true},
	{"Fiumicino", "RM", "M297", false},
	{"Tivoli", "RM", "L182", false},
	{"Guidonia Montecelio", "RM", "E263", false},
	{"Latina", "LT", "E472", true},
	{"Frosinone", "FR", "D810", true},
	{"Viterbo", "VT", "M082", true},
	{"Rieti", "RI", "H282", true},
	// Lombardia
	{"Milano", "MI", "F205", true},
	{"Sesto San Giovanni", "MI", "I690", false},
	{"Rho", "MI", "H264", false},
	{"Bergamo", "BG", "A794", true},
	{"Brescia", "BS", "B157", true},
	{"Como", "CO", "C933", true},
	{"Varese", "VA", "L682", true},
	{"Pavia", "PV", "G388", true},
	{"Cremona", "CR", "D150", true},
	{"Mantova", "MN", "E897", true},
	{"Monza", "MB", "F704", true},
	// Piemonte
	{"Torino", "TO", "L219", true},
	{"Moncalieri", "TO", "F335", false},
	{"Novara", "NO", "F952", true},
	{"Alessandria", "AL", "A182", true},
	{"Asti", "AT", "A479", true},
	{"Cuneo", "CN", "D205", true},
	// Toscana
	{"Firenze", "FI", "D612", true},
	{"Prato", "PO", "G999", true},
	{"Pisa", "PI", "G702", true},
	{"Livorno", "LI", "E625", true},
	{"Lucca", "LU", "E715", true},
	{"Siena", "SI", "I726", true},
	{"Arezzo", "AR", "A390", true},
	{"Pistoia", "PT", "G713", true},
	// Veneto and Friuli
	{"Venezia", "VE", "L736", true},
	{"Verona", "VR", "L781", true},
	{"Padova", "PD", "G224", true},
	{"Vicenza", "VI", "L840", true},
	{"Treviso", "TV", "L407", true},
	{"Rovigo", "RO", "H620", true},
	{"Belluno", "BL", "A757", true},
	{"Trieste", "TS", "L424", true},
	{"Udine", "UD", "L483", true},
	// Liguria
	{"Genova", "GE", "D969", true},
	{"La Spezia", "SP", "E463", true},
	{"Savona", "SV", "I480", true},
	// Centre, South and islands
	{"Perugia", "PG", "G478", true},
	{"Terni", "TR", "L117", true},
	{"Ancona", "AN", "A271", true},
	{"Pescara", "PE", "G482", true},
	{"L'Aquila", "AQ", "A345", true},
	{"Campobasso", "CB", "B519", true},
	{"Napoli", "NA", "F839", true},
	{"Salerno", "SA", "H703", true},
	{"Caserta", "CE", "B963", true},
	{"Bari", "BA", "A662", true},
	{"Taranto", "TA", "L049", true},
	{"Lecce", "LE", "E506", true},
	{"Foggia", "FG", "D643", true},
	{"Potenza", "PZ", "G942", true},
	{"Catanzaro", "CZ", "C352", true},
	{"Palermo", "PA", "G273", true},
	{"Catania", "CT", "C351", true},
	{"Messina", "ME", "F158", true},
	{"Cagliari", "CA", "B354", true},
	{"Sassari", "SS", "I452", true},
	{"Trento", "TN", "L378", true},
	{"Bolzano", "BZ", "A952", true},
	{"Aosta", "AO", "A326", true},
	// Foreign states (birth abroad)
	{"Albania", "EE", "Z100", false},
	{"Francia", "EE", "Z110", false},
	{"Germania", "EE", "Z112", false},
	{"Regno Unito", "EE", "Z114", false},
	{"Romania", "EE", "Z129", false},
	{"Spagna", "EE", "Z131", false},
	{"Marocco", "EE", "Z330", false},
	{"Stati Uniti d'America", "EE", "Z404", false},
}
