-- The synthetic SIL's schema (what Generate writes and default.yaml reads). A real SIL keeps its
-- own schema: only the mapping file changes. Dates are TEXT aaaa-mm-gg, instants TEXT
-- 'aaaa-mm-gg hh:mm:ss' in UTC, so any SQL database can hold the same rows.

-- One row per worker: anagrafica, residence and domicile, contacts, administrative state (CPI,
-- SAP code, employment state, DID) and the DID profiling answers.
CREATE TABLE lavoratore (
    id                    INTEGER PRIMARY KEY,
    codice_fiscale        TEXT NOT NULL,          -- not UNIQUE: a SIL may hold errors
    cognome               TEXT,
    nome                  TEXT,
    sesso                 TEXT,                   -- M/F
    data_nascita          TEXT,
    comune_nascita        TEXT,                   -- Belfiore code (Z... abroad)
    cittadinanza          TEXT,                   -- 3 digits, 000 = Italian
    res_comune            TEXT, res_cap TEXT, res_indirizzo TEXT, res_localita TEXT,
    dom_comune            TEXT, dom_cap TEXT, dom_indirizzo TEXT, dom_localita TEXT,
    telefono              TEXT, cellulare TEXT, email TEXT,
    cpi                   TEXT,                   -- codiceentetit, e.g. A944C000123
    codice_sap            TEXT,                   -- identificativosap once assigned
    stato_occupazionale   TEXT,                   -- DI IN OC AL
    data_did              TEXT,
    data_evento           TEXT,
    anzianita_mesi        INTEGER,
    indice_profiling      TEXT,                   -- decimal as text
    categoria_protetta    TEXT,                   -- SI/NO
    condizione_anno_prima TEXT,                   -- DID profiling code
    componenti_famiglia   INTEGER,
    figli_a_carico        INTEGER,
    iscritto_formazione   TEXT,                   -- SI/NO, DID profiling
    aggiornato_il         TEXT NOT NULL
);
CREATE INDEX lavoratore_cf ON lavoratore (codice_fiscale);
CREATE INDEX lavoratore_aggiornato ON lavoratore (aggiornato_il);

-- Work experiences (SAP esperienzelavoro, Candidatura EsperienzeLavorative, Europass WorkExperience).
CREATE TABLE esperienza (
    id                INTEGER PRIMARY KEY,
    id_lavoratore     INTEGER NOT NULL REFERENCES lavoratore (id),
    azienda_cf        TEXT, azienda_nome TEXT, azienda_indirizzo TEXT,
    ateco             TEXT,                       -- ATECO 2007
    data_inizio       TEXT, data_fine TEXT,       -- data_fine NULL: current
    professione       TEXT, descr_professione TEXT, -- ISTAT CP2011
    compiti           TEXT,
    tipo_contratto    TEXT,
    comune_lavoro     TEXT
);
CREATE INDEX esperienza_lavoratore ON esperienza (id_lavoratore);

-- Education (SAP titolostudio, Candidatura Istruzione, Europass Education).
CREATE TABLE istruzione (
    id                INTEGER PRIMARY KEY,
    id_lavoratore     INTEGER NOT NULL REFERENCES lavoratore (id),
    livello           TEXT,                       -- 2 digits, "Livello di Studio"
    corso             TEXT, descrizione TEXT,
    anno_termine      INTEGER,
    votazione         TEXT,
    comune_frequenza  TEXT,
    istituto          TEXT
);
CREATE INDEX istruzione_lavoratore ON istruzione (id_lavoratore);

-- Foreign languages with CEFR levels.
CREATE TABLE lingua (
    id                INTEGER PRIMARY KEY,
    id_lavoratore     INTEGER NOT NULL REFERENCES lavoratore (id),
    lingua            TEXT,                       -- 3 letters, e.g. ENG
    letto TEXT, scritto TEXT, parlato TEXT        -- A1..C2
);
CREATE INDEX lingua_lavoratore ON lingua (id_lavoratore);
