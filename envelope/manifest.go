package envelope

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/beevik/etree"
)

// The eGov Manifest (Busta.xsd: Descrizione): what a busta with attachments carries in its Body
// instead of the payload, one Riferimento per attachment. Its checks answer EGOV_IT_003 (Corpo
// non corretto), posizione the path from Descrizione.

// Manifest roles that Porta writes; others are read as they come.
const (
	RoleRequest    = "Richiesta"
	RoleResponse   = "Risposta"
	RoleAttachment = "Allegato"
)

// Manifest is a parsed eGov_IT:Descrizione.
type Manifest struct {
	Refs []ManifestRef
}

// ManifestRef is one DescrizioneMessaggio/Riferimento.
type ManifestRef struct {
	ContentID string // from href="cid:…"
	Role      string
	ID        string // eGov_IT:id
	Schema    string // Schema/@posizione, optional
	Title     string // Titolo (Lingua="it"), optional
}

// ManifestIn returns the Body's eGov_IT:Descrizione when that is what the Body holds (its only
// element), else nil.
func ManifestIn(body *etree.Element) *etree.Element {
	if body == nil {
		return nil
	}
	kids := body.ChildElements()
	if len(kids) != 1 || kids[0].Tag != "Descrizione" || kids[0].NamespaceURI() != NSeGov {
		return nil
	}
	return kids[0]
}

// ParseManifest reads the Descrizione el of a busta whose attachments have the Content-IDs
// parts. It refuses, with EGOV_IT_003: an element out of the schema or outside the eGov namespace,
// a Riferimento without href, role or the qualified eGov_IT:id (an unqualified id is not it), an
// href that is not a cid: URL naming one of parts, two Riferimenti of one part, a part no
// Riferimento describes.
func ParseManifest(el *etree.Element, parts []string) (*Manifest, error) {
	const pos = "Descrizione"
	fail := func(p, format string, a ...any) error {
		return NewError(CodeBodyFormat, p, fmt.Sprintf(format, a...))
	}
	inNS := func(e *etree.Element, want string) bool { return e.Tag == want && e.NamespaceURI() == NSeGov }
	known := make(map[string]bool, len(parts))
	for _, p := range parts {
		known[p] = true
	}
	described := map[string]bool{}
	var m Manifest
	for dm := range el.ChildElementsSeq() {
		p := pos + "/DescrizioneMessaggio"
		if !inNS(dm, "DescrizioneMessaggio") {
			return nil, fail(pos, "<%s> is not an eGov_IT:DescrizioneMessaggio", dm.FullTag())
		}
		kids := dm.ChildElements()
		if len(kids) != 1 || !inNS(kids[0], "Riferimento") {
			return nil, fail(p, "DescrizioneMessaggio must hold exactly one eGov_IT:Riferimento")
		}
		r := kids[0]
		p += "/Riferimento"
		var ref ManifestRef
		var href string
		for _, a := range r.Attr {
			switch {
			case a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns"):
			case a.Space == "" && a.Key == "href":
				href = a.Value
			case a.Space == "" && a.Key == "role":
				ref.Role = a.Value
			case a.Space != "" && a.Key == "id" && a.NamespaceURI() == NSeGov:
				ref.ID = a.Value
			case a.Space == "" && a.Key == "id":
				return nil, fail(p+"/id", "the id of Riferimento must be qualified (eGov_IT:id)")
			default:
				return nil, fail(p, "unexpected attribute %s on Riferimento", a.FullKey())
			}
		}
		switch {
		case href == "":
			return nil, fail(p+"/href", "Riferimento has no href")
		case ref.Role == "":
			return nil, fail(p+"/role", "Riferimento has no role")
		case ref.ID == "":
			return nil, fail(p+"/id", "Riferimento has no eGov_IT:id")
		}
		if !strings.HasPrefix(href, "cid:") {
			return nil, fail(p+"/href", "href %q is not a cid: reference to an attachment", href)
		}
		cid, err := url.PathUnescape(href[len("cid:"):])
		if err != nil || !known[cid] {
			return nil, fail(p+"/href", "href %q names no attachment of the message", href)
		}
		if described[cid] {
			return nil, fail(p+"/href", "two Riferimenti describe %s", href)
		}
		described[cid] = true
		ref.ContentID = cid
		order := 0
		for c := range r.ChildElementsSeq() {
			switch {
			case inNS(c, "Schema") && order < 1:
				order = 1
				ref.Schema = c.SelectAttrValue("posizione", "")
				if ref.Schema == "" {
					return nil, fail(p+"/Schema/posizione", "Schema has no posizione")
				}
			case inNS(c, "Titolo") && order < 2:
				order = 2
				ref.Title = c.Text()
			default:
				return nil, fail(p, "<%s> is not expected in Riferimento (eGov_IT:Schema, then eGov_IT:Titolo)", c.FullTag())
			}
		}
		m.Refs = append(m.Refs, ref)
	}
	if len(m.Refs) == 0 {
		return nil, fail(pos, "Descrizione holds no DescrizioneMessaggio")
	}
	for _, p := range parts {
		if !described[p] {
			return nil, fail(pos, "the attachment cid:%s is not described by the Manifest", p)
		}
	}
	return &m, nil
}

// Element builds the eGov_IT:Descrizione of m, the eGov namespace declared on it.
func (m *Manifest) Element() *etree.Element {
	d := etree.NewElement(prefixEGov + ":Descrizione")
	d.CreateAttr("xmlns:"+prefixEGov, NSeGov)
	for _, r := range m.Refs {
		ref := d.CreateElement(prefixEGov + ":DescrizioneMessaggio").CreateElement(prefixEGov + ":Riferimento")
		ref.CreateAttr("href", "cid:"+url.PathEscape(r.ContentID))
		ref.CreateAttr("role", r.Role)
		ref.CreateAttr(prefixEGov+":id", r.ID)
		if r.Schema != "" {
			ref.CreateElement(prefixEGov+":Schema").CreateAttr("posizione", r.Schema)
		}
		if r.Title != "" {
			t := ref.CreateElement(prefixEGov + ":Titolo")
			t.CreateAttr("Lingua", "it")
			t.SetText(r.Title)
		}
	}
	return d
}

// Find returns the first reference with role, or nil.
func (m *Manifest) Find(role string) *ManifestRef {
	for i := range m.Refs {
		if m.Refs[i].Role == role {
			return &m.Refs[i]
		}
	}
	return nil
}
