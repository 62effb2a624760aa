package gateway

import (
	"strings"

	"github.com/beevik/etree"

	"porta/audit"
	"porta/internal/xmlsafe"
)

// businessIDs evaluates the service's business identifiers (its registry entry's trace: ids,
// GovWay's correlazione applicativa) over body, the SOAP Body of a message being traced, already
// parsed: each value found, trimmed, is one identifier; several per name are kept. It stops at
// audit.MaxRecordIDs values and leaves out values longer than audit.MaxIDValue, so a hostile
// payload costs the index no more than that; the store hashes them (it never keeps them in clear).
// A service that declares none costs nothing. Call it before the payload's elements are moved
// into another envelope (payload).
func businessIDs(s *Service, body *etree.Element) []audit.BusinessID {
	if s == nil || body == nil || len(s.Trace.IDs) == 0 {
		return nil
	}
	var out []audit.BusinessID
	add := func(name string, el *etree.Element) bool {
		if v := strings.TrimSpace(el.Text()); v != "" && len(v) <= audit.MaxIDValue {
			out = append(out, audit.BusinessID{Name: name, Value: v})
		}
		return len(out) < audit.MaxRecordIDs
	}
	for _, id := range s.Trace.IDs {
		for el := range body.FindElementsPathSeq(id.Path) {
			if id.In == nil {
				if !add(id.Name, el) {
					return out
				}
				continue
			}
			// parse-xml: the element's text is a document of its own (the SAP's lavoratore), read
			// with the default caps (it came inside a message within the node's).
			doc, err := xmlsafe.Parse([]byte(el.Text()), xmlsafe.DefaultLimits)
			if err != nil {
				continue
			}
			for inner := range doc.FindElementsPathSeq(id.In.Path) {
				if !add(id.Name, inner) {
					return out
				}
			}
		}
	}
	return out
}
