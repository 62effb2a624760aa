package inps

import "testing"

// FuzzParse: Parse must never panic, and a list it accepts must build back (amounts aside).
func FuzzParse(f *testing.F) {
	doc, _ := Build(sample())
	f.Add(doc)
	f.Add([]byte(`<ElencoPercettori xmlns="` + Namespace + `"><Intestazione/></ElencoPercettori>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse(data)
		if err != nil {
			return
		}
		if l.ID == "" || len(l.Recipients) == 0 {
			t.Fatalf("accepted a list without id or workers: %+v", l)
		}
	})
}
