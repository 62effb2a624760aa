package sil

import "fmt"

// Tables of the synthetic SIL. Names are common Italian names; codes are plausible values in the
// ministry's formats (CP2011 professions, ATECO 2007 sectors, contract types, study levels),
// seeded from what public samples show, not an official classification.

var surnames = []string{"Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
	"Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo",
	"Lombardi", "Moretti", "Barbieri", "Fontana", "Santoro", "Mariani", "Rinaldi", "Caruso", "Ferrara",
	"Galli", "Martini", "Leone", "Longo", "Gentile", "Martinelli", "Vitale", "Lombardo", "Serra",
	"Coppola", "De Santis", "D'Angelo", "Marchetti", "Parisi", "Villa", "Conte", "Ferraro", "Ferri",
	"Fabbri", "Bianco", "Marini", "Grasso", "Valentini", "Messina", "Sala", "De Angelis", "Gatti",
	"Pellegrini", "Palumbo", "Sanna", "Farina", "Rizzi", "Monti", "Cattaneo", "Morelli", "Amato",
	"Silvestri", "Mazza", "Testa", "Grassi", "Pellegrino", "Carbone", "Giuliani", "Benedetti", "Barone",
	"Rossetti", "Caputo", "Montanari", "Guerra", "Palmieri", "Bernardi", "Martino", "Fiore", "Ferretti",
	"Bellini", "Basile", "Riva", "Donati", "Piras", "Vitali", "Battaglia", "Sartori", "Neri", "Costantini",
	"Milani", "Pagano", "Ruggiero", "Sorrentino", "D'Amico", "Orlando", "Damico", "Negri", "Fabbrò", "Zanetti"}

var maleNames = []string{"Marco", "Alessandro", "Giuseppe", "Flavio", "Luca", "Giovanni", "Roberto", "Andrea",
	"Stefano", "Angelo", "Francesco", "Mario", "Luigi", "Antonio", "Paolo", "Davide", "Simone", "Matteo",
	"Lorenzo", "Federico", "Riccardo", "Gabriele", "Nicolò", "Emanuele", "Fabio", "Massimo", "Daniele",
	"Salvatore", "Vincenzo", "Pietro", "Alberto", "Claudio", "Enrico", "Filippo", "Giorgio", "Michele",
	"Tommaso", "Leonardo", "Samuele", "Edoardo", "Jacopo", "Diego", "Cristian", "Ivan", "Sergio", "Bruno"}

var femaleNames = []string{"Anna", "Maria", "Giulia", "Francesca", "Sara", "Laura", "Chiara", "Valentina",
	"Alessandra", "Elena", "Silvia", "Martina", "Federica", "Paola", "Roberta", "Simona", "Elisa",
	"Giorgia", "Alice", "Sofia", "Aurora", "Beatrice", "Emma", "Ginevra", "Camilla", "Noemi", "Arianna",
	"Ilaria", "Serena", "Monica", "Cristina", "Barbara", "Daniela", "Manuela", "Claudia", "Irene",
	"Marta", "Veronica", "Lucia", "Rosa", "Teresa", "Angela", "Carla", "Greta", "Nicole", "Lisa"}

var streets = []string{"Via Roma", "Via Garibaldi", "Via Mazzini", "Via Dante", "Via Verdi", "Corso Italia",
	"Via Cavour", "Via Marconi", "Via Matteotti", "Piazza della Repubblica", "Via XX Settembre",
	"Via Vittorio Emanuele", "Viale Europa", "Via Gramsci", "Via San Francesco", "Via dei Mille"}

var companyNames = []string{"Emiliana Servizi", "Tecnoplast", "Alimentari Riuniti", "Logistica Padana",
	"Costruzioni Adriatiche", "Informatica Futura", "Meccanica Fratelli Neri", "Ristorazione Collettiva",
	"Pulizie Industriali", "Cooperativa Sociale Aurora", "Trasporti Veloci", "Supermercati del Centro",
	"Officine Meccaniche", "Studio Associato", "Ceramiche del Po", "Agricola San Marco"}

var companyForms = []string{"S.r.l.", "S.p.A.", "Soc. Coop.", "S.n.c.", "S.a.s."}

type job struct{ prof, descr, ateco, tasks string }

var jobs = []job{
	{"5.1.2.2.0.1", "Commesso di negozio", "47.11.10", "Vendita al banco, rifornimento scaffali, cassa"},
	{"5.2.2.1.0.1", "Cuoco", "56.10.11", "Preparazione pasti, gestione della cucina"},
	{"5.2.2.3.0.1", "Cameriere", "56.10.11", "Servizio ai tavoli e al banco"},
	{"7.4.2.3.0.1", "Autista di mezzi pesanti", "49.41.00", "Trasporto merci su strada"},
	{"6.1.2.1.0.1", "Muratore", "41.20.00", "Costruzione e ristrutturazione di edifici"},
	{"2.1.1.4.1.0", "Analista programmatore", "62.01.00", "Sviluppo e manutenzione di software"},
	{"4.1.1.1.0.1", "Impiegato amministrativo", "69.20.11", "Contabilità, fatturazione, archivio"},
	{"8.1.4.1.0.1", "Addetto alle pulizie", "81.21.00", "Pulizia di uffici e locali"},
	{"7.2.1.1.0.1", "Operaio addetto macchine utensili", "25.62.00", "Conduzione di torni e frese"},
	{"3.2.1.1.1.0", "Infermiere", "86.10.10", "Assistenza ai pazienti"},
	{"6.5.1.1.0.1", "Panettiere", "10.71.10", "Produzione di pane e prodotti da forno"},
	{"8.1.3.1.0.1", "Magazziniere", "52.10.10", "Carico, scarico e inventario"},
}

type eduStep struct {
	level, corso, descr, school string
	age                         int
	graded                      bool
	outOf                       int
}

func (e eduStep) vote(g *generator) string {
	if !e.graded {
		return ""
	}
	switch e.outOf {
	case 100:
		return fmt.Sprintf("%d/100", 60+g.rng.IntN(41))
	case 110:
		return fmt.Sprintf("%d/110", 66+g.rng.IntN(45))
	}
	return ""
}

var educationPath = []eduStep{
	{"20", "", "Licenza media", "Scuola secondaria di primo grado", 14, false, 0},
	{"40", "40000001", "Diploma di istruzione secondaria superiore", "Istituto di istruzione superiore", 19, true, 100},
	{"60", "60000001", "Laurea magistrale", "Università", 24, true, 110},
}

var languages = []string{"ENG", "FRA", "DEU", "SPA", "ARA", "RUM"}

var cefr = []string{"A1", "A2", "B1", "B2", "C1", "C2"}

var foreign = []struct{ code, citizenship string }{
	{"Z100", "201"}, // Albania
	{"Z129", "235"}, // Romania
	{"Z330", "436"}, // Marocco
}
