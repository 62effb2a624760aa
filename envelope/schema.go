package envelope

import (
	"errors"
	"fmt"

	"github.com/beevik/etree"

	"porta/xsd"
)

// StandaloneHeader serialises an eGov_IT:Intestazione as a document of its own, declaring on it
// every namespace prefix it inherits from its ancestors, so it can be validated alone.
func StandaloneHeader(in *etree.Element) ([]byte, error) {
	c := in.Copy()
	declared := map[string]bool{}
	for _, a := range c.Attr {
		if a.Space == "xmlns" {
			declared[a.Key] = true
		} else if a.Space == "" && a.Key == "xmlns" {
			declared[""] = true
		}
	}
	for p := in.Parent(); p != nil; p = p.Parent() {
		for _, a := range p.Attr {
			switch {
			case a.Space == "xmlns" && !declared[a.Key]:
				declared[a.Key] = true
				c.CreateAttr("xmlns:"+a.Key, a.Value)
			case a.Space == "" && a.Key == "xmlns" && !declared[""]:
				declared[""] = true
				c.CreateAttr("xmlns", a.Value)
			}
		}
	}
	doc := etree.NewDocument()
	doc.SetRoot(c)
	b, err := doc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("serialise Intestazione: %w", err)
	}
	return b, nil
}

// CheckSchema validates the Intestazione, serialised alone (StandaloneHeader), against our busta
// schema (xsd.Busta). Each schema problem becomes an EGOV_IT_002 exception whose posizione is the
// element concerned ("Intestazione" when libxml2 names none); the detail gives the line. A
// document that is not XML is EGOV_IT_001. Other failures (the schema cannot be compiled) are
// returned as they are.
func CheckSchema(set *xsd.Set, intestazione *etree.Element) error {
	b, err := StandaloneHeader(intestazione)
	if err != nil {
		return err
	}
	err = set.Validate(xsd.Busta, b)
	var xe *xsd.Error
	if !errors.As(err, &xe) {
		return err
	}
	pe := &ProtocolError{}
	for _, p := range xe.Problems {
		pos := p.Element
		code := CodeHeaderFormat
		if pos == "" {
			pos, code = "Intestazione", CodeEnvelopeFormat
		}
		pe.add(code, SeveritySevere, pos, "schema: "+p.String())
	}
	return pe
}
