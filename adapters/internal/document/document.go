// Package document owns what every worker-document builder of the adapters does the same way:
// marshal the wire type, put the XML declaration in front, validate the result against its schema
// as the worker's document (a violation becomes the worker's *sil.RecordError), and build a batch
// of workers going on past the rejected ones. The builders (sap, did, candidatura, europass) keep
// only what is theirs: their options and the translation from a SIL worker to their wire type.
//
// It must not know about the busta, HTTP or any one service's rules.
package document

import (
	"encoding/xml"
	"fmt"

	"porta/adapters/sil"
)

// Doc is one built document with the record it came from.
type Doc struct {
	CF, SILID string
	XML       []byte
}

// Marshal writes v (a wire type) as an indented XML document with its declaration and validates it
// against schema (relative to xsd/schemas) with val; what names the document in errors ("sap").
// A schema violation is w's *sil.RecordError naming the element libxml2 names.
func Marshal(w *sil.Worker, val sil.Validator, schema, what string, v any) ([]byte, error) {
	out, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, w.CodiceFiscale, err)
	}
	out = append([]byte(xml.Header), append(out, '\n')...)
	if err := w.CheckDocument(val, schema, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Batch builds the document of every worker with build and goes on past the rejected ones.
func Batch(ws []*sil.Worker, build func(*sil.Worker) ([]byte, error)) ([]Doc, []*sil.RecordError) {
	return sil.Batch(ws, func(w *sil.Worker) (Doc, error) {
		x, err := build(w)
		return Doc{w.CodiceFiscale, w.ID, x}, err
	})
}
