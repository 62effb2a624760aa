package gateway

import (
	"regexp"
	"strings"

	"porta/envelope"
	"porta/registry"
)

// What the trail keeps of a message is the service's personal-data policy (registry.TracePolicy,
// its trace: in registry.yaml), else the gateway's (Options.BodyMode, porta.yaml's trace.body):
//
//   - full: the envelope as sent or received, with the policy's masked fields blanked;
//   - encrypted: the same, sealed by the store with the trace keys (audit.BodyEncrypted);
//   - header: the envelope with the SOAP Body emptied; none: no envelope bytes.
//
// The payload's and the envelope's SHA-256 and sizes are of the message as it was, so a record
// still proves what was exchanged. Masking rewrites the stored copy only (its signature no
// longer verifies; the trace says so by its hashes). For every mode but full, the texts the
// trail keeps in clear beside the envelope (Detail, the exceptions' posizione, in the record and
// in its Intestazione) lose the values they quote: a schema validator's "The value
// 'RSSMRA…' is not accepted" names the field, not the worker.

// tracePolicy returns the trace policy of the service a busta belongs to: the service of its
// receiver (a request) or else of its sender (a reply); the zero policy when neither is known.
func (g *Gateway) tracePolicy(h *envelope.Header) registry.TracePolicy {
	if h == nil || h.Service == "" {
		return registry.TracePolicy{}
	}
	if s, ok := g.dir.Service(h.Receiver.Name, h.Service); ok {
		return s.Trace
	}
	if s, ok := g.dir.Service(senderOf(h), h.Service); ok {
		return s.Trace
	}
	return registry.TracePolicy{}
}

// keepBody sets what r keeps of raw under the policy of h's service: its BodyMode and Raw (the
// store applies the mode; masking is done here, where the envelope's XML is read).
func (g *Gateway) keepBody(r *Record, h *envelope.Header, raw []byte) {
	pol := g.tracePolicy(h)
	r.Raw, r.BodyMode = nil, pol.Body
	if r.BodyMode == "" {
		r.BodyMode = g.opt.BodyMode
	}
	if r.BodyMode == "none" || len(raw) == 0 {
		return
	}
	if len(pol.Mask) == 0 || r.BodyMode == "header" {
		r.Raw = raw
		return
	}
	masked, ok := g.mask(raw, pol.Mask)
	switch {
	case ok:
		r.Raw = masked
	case r.BodyMode == "encrypted":
		r.Raw = raw // unreadable, so unmasked; still sealed
	default:
		r.BodyMode = "none" // a body that cannot be masked is not kept in clear
	}
}

// mask returns the envelope with the text of the fields the paths name (evaluated on the SOAP
// Body) blanked, and whether it could read the envelope.
func (g *Gateway) mask(raw []byte, paths []registry.FieldPath) ([]byte, bool) {
	doc, err := g.parseXML(raw)
	if err != nil || doc.Root() == nil {
		return nil, false
	}
	body := doc.Root().SelectElement("Body")
	if body == nil {
		return nil, false
	}
	for _, p := range paths {
		for _, e := range body.FindElementsPath(p.Path) {
			e.Child = nil
			e.SetText("")
		}
	}
	out, err := doc.WriteToBytes()
	return out, err == nil
}

// quotedValue matches a single-quoted text and the word before it when that word says the text
// is a name (libxml2's "Element 'x'", "attribute 'y'", "[facet 'pattern']").
var quotedValue = regexp.MustCompile(`(Element |[Aa]ttribute |facet )?'[^']*'`)

// scrubValues blanks the values a message quotes, keeping the names.
func scrubValues(s string) string {
	if !strings.Contains(s, "'") {
		return s
	}
	return quotedValue.ReplaceAllStringFunc(s, func(m string) string {
		if m[0] != '\'' {
			return m
		}
		return "'…'"
	})
}

// scrubExceptions returns xs with their posizione scrubbed (a copy when any changes).
func scrubExceptions(xs []envelope.Exception) []envelope.Exception {
	var out []envelope.Exception
	for i, x := range xs {
		if p := scrubValues(x.Position); p != x.Position {
			if out == nil {
				out = append([]envelope.Exception(nil), xs...)
			}
			out[i].Position = p
		}
	}
	if out == nil {
		return xs
	}
	return out
}
