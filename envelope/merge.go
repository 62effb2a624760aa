package envelope

// Merge adds to e the exceptions of o that e does not hold yet (same code and posizione), with
// their explanations: a receiver that checks a busta in several stages reports each problem once
// (spec §10). Repeats within o, such as one 101 per extra Mittente, are kept.
func (e *ProtocolError) Merge(o *ProtocolError) {
	if o == nil {
		return
	}
	have := map[Exception]bool{}
	for _, x := range e.Exceptions {
		have[Exception{Code: x.Code, Position: x.Position}] = true
	}
	for i, x := range o.Exceptions {
		if have[Exception{Code: x.Code, Position: x.Position}] {
			continue
		}
		for len(e.details) < len(e.Exceptions) {
			e.details = append(e.details, "")
		}
		e.Exceptions = append(e.Exceptions, x)
		e.details = append(e.details, o.detail(i))
		if e.Detail == "" {
			e.Detail = o.detail(i)
		}
	}
	e.Bare = e.Bare || o.Bare
}
