package scuola

import "testing"

// FuzzParseResult: the province's reader of a school's answer must never panic, and a completed
// result it accepts names a valid school and year.
func FuzzParseResult(f *testing.F) {
	done, _ := BuildResult(&Result{ID: "A", Status: Completed, School: "BOIS00100X", Year: "2025/2026", Pupils: samplePupils()})
	f.Add(done)
	pending, _ := BuildResult(&Result{ID: "A", Status: InProgress})
	f.Add(pending)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseResult(data)
		if err != nil || r.Status != Completed {
			return
		}
		if CheckSchool(r.School) != nil || CheckYear(r.Year) != nil {
			t.Fatalf("accepted %q %q", r.School, r.Year)
		}
	})
}

// FuzzParseRequest: the school's reader of a request must never panic.
func FuzzParseRequest(f *testing.F) {
	req, _ := BuildRequest(Extraction{School: "BOIS00100X", Year: "2025/2026"})
	f.Add(req)
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := ParseRequest(data)
		if err == nil && (CheckSchool(x.School) != nil || CheckYear(x.Year) != nil) {
			t.Fatalf("accepted %+v", x)
		}
	})
}
