package xmlsafe

import (
	"fmt"
	"strings"
	"testing"
)

// benchDoc returns a SOAP-shaped document around body.
func benchDoc(body string) []byte {
	return []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header/><soap:Body>` +
		body + `</soap:Body></soap:Envelope>`)
}

// benchElements returns about size bytes of element-dense payload: an element, an attribute
// and an escape every 45 bytes.
func benchElements(size int) string {
	var b strings.Builder
	b.WriteString(`<p:Lista xmlns:p="urn:example:payload">`)
	for i := 1; i < size/45; i++ {
		fmt.Fprintf(&b, `<p:Voce n="%d">valore %d &amp; altro</p:Voce>`, i, i)
	}
	b.WriteString(`</p:Lista>`)
	return b.String()
}

// BenchmarkParse parses documents of 1 KB, 100 KB and 1 MB payloads (element-dense) with Parse:
// the checks and the etree document. ns/op divided by the bytes (MB/s) is the per-byte cost
// that should stay flat as the size grows.
//
// "text" is a payload of one text element (a base64 attachment, the SAP text of porta bench),
// whose long runs Parse lifts out of the decoder (liftText); "text-unlifted" is the same with
// lifting off, as before it.
func BenchmarkParse(b *testing.B) {
	defer func(n int) { liftMin = n }(liftMin)
	sizes := []struct {
		name string
		size int
	}{{"1KB", 1 << 10}, {"100KB", 100 << 10}, {"1MB", 1 << 20}}
	for _, shape := range []string{"elements", "text", "text-unlifted"} {
		for _, sz := range sizes {
			in := benchDoc(benchElements(sz.size))
			if shape != "elements" {
				in = benchDoc("<att>" + strings.Repeat("QUJDREVGR0g=", sz.size/12) + "</att>")
			}
			b.Run(shape+"/"+sz.name, func(b *testing.B) {
				liftMin = 16 << 10
				if shape == "text-unlifted" {
					liftMin = len(in) + 1
				}
				b.SetBytes(int64(len(in)))
				for b.Loop() {
					if _, err := Parse(in, DefaultLimits); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
