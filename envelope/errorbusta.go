package envelope

import (
	"strings"

	"github.com/beevik/etree"
)

// Posizioni of the EGOV_IT_003 a receiver records for an error busta whose Body is not the
// fault the specification wants (spec §10, "Incoming error buste").
const (
	PosErrorFault       = "ListaEccezioni/SOAPFault"
	PosErrorFaultString = "ListaEccezioni/SOAPFault/FaultString"
	PosErrorFaultCode   = "ListaEccezioni/SOAPFault/FaultCode"
)

// CheckErrorBusta checks the Body of a received busta that carries a ListaEccezioni (h.Exceptions)
// and returns the EGOV_IT_003 exceptions the receiver records, none when the busta is well
// formed or carries no exceptions. The Body must hold only a SOAP Fault whose faultcode is Client
// in the SOAP 1.1 namespace and whose faultstring is FaultStringFormat. lenient is the Linee
// Guida 1.1 reading (spec §11): a list of INFO and LIEVE exceptions only, with a Body that holds
// no Fault, is an ordinary busta and needs no fault.
func CheckErrorBusta(h *Header, body *etree.Element, lenient bool) []Exception {
	if lenient && NotesOnly(h, body) {
		return nil
	}
	if h == nil || len(h.Exceptions) == 0 {
		return nil
	}
	var fault *etree.Element
	var kids []*etree.Element
	if body != nil {
		kids = body.ChildElements()
	}
	for _, c := range kids {
		if c.Tag == "Fault" && c.NamespaceURI() == NSSOAP {
			fault = c
		}
	}
	if fault == nil && lenient && !severe(h.Exceptions) {
		return nil
	}
	fail := func(pos string) Exception {
		return Exception{Context: ContextValidation, Code: CodeBodyFormat, Severity: SeveritySevere, Position: pos}
	}
	if fault == nil || len(kids) != 1 {
		return []Exception{fail(PosErrorFault)}
	}
	var out []Exception
	code := ""
	if fc := fault.SelectElement("faultcode"); fc != nil {
		code = strings.TrimSpace(fc.Text())
	}
	ns, local := resolvePrefix(fault, ""), code
	if i := strings.IndexByte(code, ':'); i >= 0 {
		ns, local = resolvePrefix(fault, code[:i]), code[i+1:]
	}
	if ns != NSSOAP || local != "Client" {
		out = append(out, fail(PosErrorFaultCode))
	}
	text := ""
	if fs := fault.SelectElement("faultstring"); fs != nil {
		text = strings.TrimSpace(fs.Text())
	}
	if text != FaultStringFormat {
		out = append(out, fail(PosErrorFaultString))
	}
	return out
}

func severe(exc []Exception) bool {
	for _, x := range exc {
		if x.Severity == SeveritySevere {
			return true
		}
	}
	return false
}

// NotesOnly reports whether a busta carrying a ListaEccezioni is, under the Linee Guida 1.1
// reading (spec §11), an ordinary busta with notes: every exception INFO or LIEVE, and a Body
// with no SOAP Fault. Such a busta is delivered like any other; under eGov 1.1 it is an error
// busta.
func NotesOnly(h *Header, body *etree.Element) bool {
	if h == nil || len(h.Exceptions) == 0 || severe(h.Exceptions) {
		return false
	}
	if body != nil {
		for _, c := range body.ChildElements() {
			if c.Tag == "Fault" && c.NamespaceURI() == NSSOAP {
				return false
			}
		}
	}
	return true
}
