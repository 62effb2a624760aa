package sil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config says where the SIL is and how to read it: one query per section and, for each, which
// result column feeds which Worker field. Field names are fixed (see Fields); columns and queries
// are the SIL's own. Queries use ? placeholders (rebound for the driver).
type Config struct {
	Database struct {
		Driver string `yaml:"driver"` // sqlite3 (default), or any database/sql driver the program links, e.g. pgx
		DSN    string `yaml:"dsn"`    // a SQLite path is resolved against the config file's directory
	} `yaml:"database"`

	Worker struct {
		ByCF         string            `yaml:"by_cf"`         // one parameter: the codice fiscale
		ChangedSince string            `yaml:"changed_since"` // one parameter: the instant
		SinceFormat  string            `yaml:"since_format"`  // Go layout to bind the instant as text (UTC); empty binds a time.Time
		Columns      map[string]string `yaml:"columns"`
	} `yaml:"worker"`
	Experiences Section `yaml:"experiences"`
	Education   Section `yaml:"education"`
	Languages   Section `yaml:"languages"`

	file string
}

// Section is a child list: a query with one parameter, the worker's id, and its column mapping.
type Section struct {
	Query   string            `yaml:"query"`
	Columns map[string]string `yaml:"columns"`
}

// field is a settable Worker (or child) field and its kind.
type field[T any] struct {
	required bool
	ptr      func(*T) any // *string, *time.Time or *int
}

var workerFields = map[string]field[Worker]{
	"id":                    {true, func(w *Worker) any { return &w.ID }},
	"codice_fiscale":        {true, func(w *Worker) any { return &w.CodiceFiscale }},
	"cognome":               {true, func(w *Worker) any { return &w.Cognome }},
	"nome":                  {true, func(w *Worker) any { return &w.Nome }},
	"sesso":                 {true, func(w *Worker) any { return &w.Sesso }},
	"data_nascita":          {true, func(w *Worker) any { return &w.DataNascita }},
	"comune_nascita":        {true, func(w *Worker) any { return &w.ComuneNascita }},
	"cittadinanza":          {true, func(w *Worker) any { return &w.Cittadinanza }},
	"res_comune":            {false, func(w *Worker) any { return &w.Residenza.Comune }},
	"res_cap":               {false, func(w *Worker) any { return &w.Residenza.CAP }},
	"res_indirizzo":         {false, func(w *Worker) any { return &w.Residenza.Indirizzo }},
	"res_localita":          {false, func(w *Worker) any { return &w.Residenza.Localita }},
	"dom_comune":            {true, func(w *Worker) any { return &w.Domicilio.Comune }},
	"dom_cap":               {true, func(w *Worker) any { return &w.Domicilio.CAP }},
	"dom_indirizzo":         {false, func(w *Worker) any { return &w.Domicilio.Indirizzo }},
	"dom_localita":          {false, func(w *Worker) any { return &w.Domicilio.Localita }},
	"telefono":              {false, func(w *Worker) any { return &w.Telefono }},
	"cellulare":             {false, func(w *Worker) any { return &w.Cellulare }},
	"email":                 {false, func(w *Worker) any { return &w.Email }},
	"codice_ente_titolare":  {true, func(w *Worker) any { return &w.Admin.CodiceEnteTitolare }},
	"codice_sap":            {false, func(w *Worker) any { return &w.Admin.CodiceSAP }},
	"stato_occupazionale":   {false, func(w *Worker) any { return &w.Admin.StatoOccupazionale }},
	"data_did":              {false, func(w *Worker) any { return &w.Admin.DataDID }},
	"data_evento":           {false, func(w *Worker) any { return &w.Admin.DataEvento }},
	"anzianita_mesi":        {false, func(w *Worker) any { return &w.Admin.AnzianitaMesi }},
	"indice_profiling":      {false, func(w *Worker) any { return &w.Admin.IndiceProfiling }},
	"categoria_protetta":    {false, func(w *Worker) any { return &w.Admin.CategoriaProtetta }},
	"condizione_anno_prima": {false, func(w *Worker) any { return &w.Admin.CondizioneAnnoPrima }},
	"componenti_famiglia":   {false, func(w *Worker) any { return &w.Admin.ComponentiFamiglia }},
	"figli_a_carico":        {false, func(w *Worker) any { return &w.Admin.FigliACarico }},
	"iscritto_formazione":   {false, func(w *Worker) any { return &w.Admin.IscrittoFormazione }},
	"aggiornato_il":         {true, func(w *Worker) any { return &w.UpdatedAt }},
}

var experienceFields = map[string]field[Experience]{
	"azienda_cf":        {true, func(e *Experience) any { return &e.AziendaCF }},
	"azienda_nome":      {true, func(e *Experience) any { return &e.AziendaNome }},
	"azienda_indirizzo": {false, func(e *Experience) any { return &e.AziendaIndirizzo }},
	"ateco":             {false, func(e *Experience) any { return &e.Ateco }},
	"data_inizio":       {true, func(e *Experience) any { return &e.DataInizio }},
	"data_fine":         {false, func(e *Experience) any { return &e.DataFine }},
	"professione":       {true, func(e *Experience) any { return &e.Professione }},
	"descr_professione": {false, func(e *Experience) any { return &e.DescrProfessione }},
	"compiti":           {false, func(e *Experience) any { return &e.Compiti }},
	"tipo_contratto":    {false, func(e *Experience) any { return &e.TipoContratto }},
	"comune_lavoro":     {false, func(e *Experience) any { return &e.ComuneLavoro }},
}

var educationFields = map[string]field[Education]{
	"livello":          {true, func(e *Education) any { return &e.Livello }},
	"corso":            {false, func(e *Education) any { return &e.Corso }},
	"descrizione":      {false, func(e *Education) any { return &e.Descrizione }},
	"anno_termine":     {false, func(e *Education) any { return &e.AnnoTermine }},
	"votazione":        {false, func(e *Education) any { return &e.Votazione }},
	"comune_frequenza": {false, func(e *Education) any { return &e.ComuneFrequenza }},
	"istituto":         {false, func(e *Education) any { return &e.Istituto }},
}

var languageFields = map[string]field[Language]{
	"lingua":  {true, func(l *Language) any { return &l.Codice }},
	"letto":   {false, func(l *Language) any { return &l.Letto }},
	"scritto": {false, func(l *Language) any { return &l.Scritto }},
	"parlato": {false, func(l *Language) any { return &l.Parlato }},
}

// Fields lists the field names a mapping may use, per section (worker, experiences, education,
// languages), sorted.
func Fields() map[string][]string {
	return map[string][]string{
		"worker":      keys(workerFields),
		"experiences": keys(experienceFields),
		"education":   keys(educationFields),
		"languages":   keys(languageFields),
	}
}

func keys[T any](m map[string]field[T]) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// LoadConfig reads and checks a mapping file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sil config: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig decodes and checks a mapping; name (the file) prefixes every problem, with the
// line where the YAML decoder knows it.
func ParseConfig(name string, data []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c.file = name
	if c.Database.Driver == "" {
		c.Database.Driver = "sqlite3"
	}
	var problems []string
	add := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	if c.Database.DSN == "" {
		add("database.dsn: required (a SQLite file, or a PostgreSQL URL)")
	}
	if c.Worker.ByCF == "" {
		add("worker.by_cf: required (the query of one worker by codice fiscale, one ? parameter)")
	}
	if c.Worker.ChangedSince == "" {
		add("worker.changed_since: required (the query of the workers changed after an instant, one ? parameter)")
	}
	if c.Worker.SinceFormat != "" {
		ref := time.Date(1999, 12, 31, 23, 58, 59, 0, time.UTC)
		if f := c.Worker.SinceFormat; !strings.Contains(ref.Format(f), "1999") || !strings.Contains(ref.Format(f), "31") {
			add("worker.since_format %q: not a Go time layout with year, month and day (e.g. \"2006-01-02 15:04:05\")", f)
		}
	}
	problems = append(problems, checkColumns("worker", c.Worker.Columns, workerFields)...)
	for _, s := range []struct {
		name string
		sec  Section
		cols []string
	}{
		{"experiences", c.Experiences, checkColumns("experiences", c.Experiences.Columns, experienceFields)},
		{"education", c.Education, checkColumns("education", c.Education.Columns, educationFields)},
		{"languages", c.Languages, checkColumns("languages", c.Languages.Columns, languageFields)},
	} {
		if s.sec.Query == "" {
			add("%s.query: required (one ? parameter: the worker's id)", s.name)
		}
		problems = append(problems, s.cols...)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %s", name, strings.Join(problems, "; "))
	}
	return &c, nil
}

func checkColumns[T any](section string, cols map[string]string, fields map[string]field[T]) []string {
	var out []string
	for k, v := range cols {
		if _, ok := fields[k]; !ok {
			out = append(out, fmt.Sprintf("%s.columns.%s: unknown field (known: %s)", section, k, strings.Join(keys(fields), ", ")))
		}
		if v == "" {
			out = append(out, fmt.Sprintf("%s.columns.%s: empty column name", section, k))
		}
	}
	for _, k := range keys(fields) {
		if fields[k].required && cols[k] == "" {
			out = append(out, fmt.Sprintf("%s.columns.%s: required field is not mapped", section, k))
		}
	}
	sort.Strings(out)
	return out
}

// dsn returns the data source name to open, read-only for SQLite.
func (c *Config) dsn() (string, error) {
	d := c.Database.DSN
	if c.Database.Driver != "sqlite3" {
		return d, nil
	}
	path, query, _ := strings.Cut(strings.TrimPrefix(d, "file:"), "?")
	if path == "" || path == ":memory:" {
		return "", errors.New("database.dsn: a read-only SIL needs a SQLite file")
	}
	if !filepath.IsAbs(path) && c.file != "" {
		path = filepath.Join(filepath.Dir(c.file), path)
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("database.dsn: %w", err)
	}
	params := []string{"mode=ro", "_query_only=1"}
	for _, p := range strings.Split(query, "&") {
		if p != "" && !strings.HasPrefix(p, "mode=") && !strings.HasPrefix(p, "_query_only=") {
			params = append(params, p)
		}
	}
	return "file:" + path + "?" + strings.Join(params, "&"), nil
}
