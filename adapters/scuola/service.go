package scuola

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Error codes of a failed extraction (errore/codice); ours, since ANS publishes none.
const (
	CodeUnknownExtraction = "ESTRAZIONE_SCONOSCIUTA"
	CodeUnknownSchool     = "SCUOLA_NON_GESTITA"
)

// Service is what a school's gateway delivers the two actions to: RichiestaEstrazione and
// StatoEstrazione.
type Service struct {
	Data *Attendance
	// Delay is how long after the request an extraction becomes ready, as a school's slow
	// back office would take; zero = ready at the first poll.
	Delay time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// NewID returns the idEstrazione of each accepted request; the school's code and a random
	// suffix when nil. A school's gateway that queues requests names the extraction after the
	// request busta with ExtractionID, so the province can poll with what its PD returned.
	NewID func(school string) string
}

// ExtractionID is the idEstrazione a school's gateway gives a RichiestaEstrazione that reached it
// as a queued busta: the busta's Identificatore with every character but letters, digits, '_' and
// '-' turned into '-' (the time's colons become dashes), so it fits tipoIdEstrazione. The school
// owns its identifiers; the province applies the same mapping to the Porta-Message-ID its PD
// returned, so the mapping is the contract.
func ExtractionID(bustaID string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		}
		return '-'
	}, bustaID)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Handle answers one payload (the child of soap:Body): a RichiestaEstrazione is accepted and
// answered with a RicevutaEstrazione; a RichiestaStatoEstrazione is answered with a
// RispostaStatoEstrazione that is IN_CORSO until the extraction is ready, then COMPLETATA with the
// pupils (or ERRORE for an unknown id or a school this service has no data for). A payload that
// is neither, or is invalid, gives a *FieldError naming the field; other errors are the
// database's.
func (s *Service) Handle(ctx context.Context, request []byte) ([]byte, error) {
	root, err := Root(request)
	if err != nil {
		return nil, &FieldError{"payload", "root", err.Error()}
	}
	now := s.now()
	switch root {
	case "RichiestaEstrazione":
		x, err := ParseRequest(request)
		if err != nil {
			return nil, err
		}
		if s.NewID != nil {
			x.ID = s.NewID(x.School)
		} else {
			x.ID = x.School + "-" + rand.Text()
		}
		if err := s.Data.addExtraction(ctx, *x, now, now.Add(s.Delay)); err != nil {
			return nil, err
		}
		return BuildReceipt(x.ID, now)
	case "RichiestaStatoEstrazione":
		id, err := ParsePoll(request)
		if err != nil {
			return nil, err
		}
		x, ready, err := s.Data.extraction(ctx, id)
		if errors.Is(err, ErrUnknownExtraction) {
			return BuildResult(&Result{ID: id, Status: Failed, Code: CodeUnknownExtraction, Reason: "no extraction " + id + " was requested here"})
		}
		if err != nil {
			return nil, err
		}
		if now.Before(ready) {
			return BuildResult(&Result{ID: id, Status: InProgress})
		}
		known, err := s.Data.Knows(ctx, x.School)
		if err != nil {
			return nil, err
		}
		if !known {
			return BuildResult(&Result{ID: id, Status: Failed, Code: CodeUnknownSchool, Reason: "this service holds no data for school " + x.School})
		}
		pupils, err := s.Data.Pupils(ctx, x.School, x.Year, x.From)
		if err != nil {
			return nil, err
		}
		return BuildResult(&Result{ID: id, Status: Completed, School: x.School, Year: x.Year, Pupils: pupils})
	}
	return nil, &FieldError{"payload", "root", fmt.Sprintf("%s is not RichiestaEstrazione or RichiestaStatoEstrazione", root)}
}
