package anagrafe

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"porta/adapters/codicefiscale"
)

// Service is what a municipality's gateway delivers consultations to. It answers from its own
// Registry.
type Service struct {
	Registry *Registry
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// NewID returns the idOperazioneANPR of each answer; a random id when nil.
	NewID func() string
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) id() string {
	if s.NewID != nil {
		return s.NewID()
	}
	return "E002-" + rand.Text()
}

// Handle answers one consultation. request is the payload (the RichiestaE002 element, the child
// of soap:Body). On success it returns the RispostaE002OK payload. When the request is understood
// but cannot be answered (the codice fiscale fails its check, is unknown here, or the reference
// date is in the future) it returns a *FaultError whose Detail is the rispostaKO payload, which
// the WSDL declares as the operation's fault detail. A request that is not a valid RichiestaE002
// gives a *FaultError too (code CodeInvalidRequest), wrapping the *FieldError that names the
// field. Any other error is the registry's own failure (the database): the gateway answers it as
// a server fault.
func (s *Service) Handle(ctx context.Context, request []byte) ([]byte, error) {
	now := s.now()
	idANPR := s.id()
	ko := func(idClient string, p Problem) ([]byte, error) {
		detail, err := BuildFault(idClient, idANPR, now, p)
		if err != nil {
			return nil, fmt.Errorf("anagrafe: build rispostaKO: %w", err)
		}
		return nil, &FaultError{IDClient: idClient, Problems: []Problem{p}, Detail: detail}
	}
	req, err := ParseRequest(request)
	if err != nil {
		return ko("", Problem{Code: CodeInvalidRequest, Text: err.Error()})
	}
	if err := codicefiscale.Validate(req.CodiceFiscale); err != nil {
		return ko(req.IDClient, Problem{Code: CodeInvalidCF, Text: "criteriRicerca/codiceFiscale: " + err.Error()})
	}
	if req.Reference.After(now) {
		return ko(req.IDClient, Problem{Code: CodeFutureDate, Text: "datiRichiesta/dataRiferimentoRichiesta " + day(req.Reference) + " is after today"})
	}
	subj, err := s.Registry.Lookup(ctx, req.CodiceFiscale)
	if errors.Is(err, ErrNotFound) {
		return ko(req.IDClient, Problem{Code: CodeNotFound, Text: "no subject with codice fiscale " + req.CodiceFiscale})
	}
	if err != nil {
		return nil, err
	}
	resp, err := BuildResponse(req.IDClient, idANPR, now, subj)
	if err != nil {
		return nil, fmt.Errorf("anagrafe: answer %s: %w", req.CodiceFiscale, err)
	}
	return resp, nil
}
