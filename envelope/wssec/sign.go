package wssec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/beevik/etree"
	"porta/internal/xmlsafe"
)

// DefaultTimestampTTL is the lifetime of the wsu:Timestamp a Signer writes when TTL is zero.
const DefaultTimestampTTL = 5 * time.Minute

// Signer signs SOAP envelopes with WS-Security 1.0 (X.509 token profile): it adds to soap:Header
// one wsse:Security (mustUnderstand="1", no actor) holding a wsu:Timestamp, a
// wsse:BinarySecurityToken with the signing certificate (when KeyRef is RefBinaryToken, the
// default; other forms name or carry the certificate in ds:KeyInfo) and one ds:Signature whose SignedInfo
// references, by wsu:Id, the soap:Body, the header block of each of Parts (when the message has
// it) and the Timestamp, each with exclusive C14N and SHA-256. RSA keys sign with RSA-SHA256, ECDSA P-256
// keys with ECDSA-SHA256 (P-384: ECDSA-SHA384), the value written as raw r‖s as XML-DSig requires.
type Signer struct {
	key    crypto.Signer
	certs  []*x509.Certificate
	sigAlg string
	hash   crypto.Hash
	size   int // ECDSA: bytes of r and of s

	// TTL is Expires - Created of the Timestamp; zero means DefaultTimestampTTL.
	TTL time.Duration
	// Now is the clock of the Timestamp; nil means time.Now.
	Now func() time.Time
	// Parts are the header blocks (soap:Header children, by expanded name) signed beside the
	// soap:Body and the Timestamp when the message carries them (at most one of each).
	Parts []xml.Name
	// KeyRef is how ds:KeyInfo designates the certificate; the zero value RefBinaryToken refers
	// to a BinarySecurityToken that carries it. RefX509Data is not written.
	KeyRef KeyRef
}

// NewSigner returns a Signer for key, whose certificate is certs[0] (further certificates, e.g.
// intermediates, are not sent: the BinarySecurityToken carries one certificate).
func NewSigner(key crypto.Signer, certs []*x509.Certificate) (*Signer, error) {
	if key == nil {
		return nil, errors.New("signer: no private key")
	}
	if len(certs) == 0 || certs[0] == nil {
		return nil, errors.New("signer: no certificate")
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(certs[0].PublicKey) {
		return nil, fmt.Errorf("signer: the private key does not match the certificate %q", certs[0].Subject)
	}
	s := &Signer{key: key, certs: certs}
	switch k := key.Public().(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("signer: RSA key of %d bits, want at least 2048", k.N.BitLen())
		}
		s.sigAlg, s.hash = AlgRSASHA256, crypto.SHA256
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			s.sigAlg, s.hash, s.size = AlgECDSASHA256, crypto.SHA256, 32
		case elliptic.P384():
			s.sigAlg, s.hash, s.size = AlgECDSASHA384, crypto.SHA384, 48
		default:
			return nil, fmt.Errorf("signer: ECDSA curve %s is not supported (P-256 or P-384)", k.Curve.Params().Name)
		}
	default:
		return nil, fmt.Errorf("signer: key type %T is not supported (RSA or ECDSA)", k)
	}
	return s, nil
}

// LoadSigner reads a private key (PKCS#8, PKCS#1 or SEC 1 PEM) from the file keyPEM and its
// certificate (the first CERTIFICATE block) from the file certPEM. The key signs on the engine the
// environment variable PORTA_SIGNER (EnvSigner) names, OpenSSL when it loads by default (see
// keys.go); Signer.Engine reports which.
func LoadSigner(keyPEM, certPEM string) (*Signer, error) {
	return loadSigner(keyPEM, certPEM, engineFromEnv())
}

func loadSigner(keyPEM, certPEM, engine string) (*Signer, error) {
	kb, err := os.ReadFile(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	key, err := ParseKeyPEM(kb)
	if err != nil {
		return nil, fmt.Errorf("signer: %s: %w", keyPEM, err)
	}
	cb, err := os.ReadFile(certPEM)
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	certs, err := ParseCertificatesPEM(cb)
	if err != nil {
		return nil, fmt.Errorf("signer: %s: %w", certPEM, err)
	}
	if key, err = withEngine(key, engine); err != nil {
		return nil, fmt.Errorf("signer: %s: %w", keyPEM, err)
	}
	return NewSigner(key, certs)
}

// ParseKeyPEM reads a private key from PEM: PKCS#8, PKCS#1 ("RSA PRIVATE KEY") or SEC 1
// ("EC PRIVATE KEY"). The registry and the signer share it.
func ParseKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no PRIVATE KEY PEM block")
		}
		var k any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Type, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%s: key type %T cannot sign", b.Type, k)
		}
		return s, nil
	}
}

// Algorithm returns the SignatureMethod URI the Signer writes.
func (s *Signer) Algorithm() string { return s.sigAlg }

// SignBytes parses data (through xmlsafe.Parse with xmlsafe.DefaultLimits), signs it and returns the
// serialisation that was signed.
func (s *Signer) SignBytes(data []byte) ([]byte, error) {
	doc, err := xmlsafe.Parse(data, xmlsafe.DefaultLimits)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	if err := s.Sign(doc); err != nil {
		return nil, err
	}
	// Character references for CR, TAB and LF in attributes keep the bytes' canonical form equal
	// to the tree's after any XML parser reads them back.
	doc.WriteSettings = etree.WriteSettings{CanonicalText: true, CanonicalAttrVal: true}
	return doc.WriteToBytes()
}

// Sign adds the wsse:Security header to the SOAP envelope doc, in place. It sets wsu:Id on
// soap:Body and on the header blocks of Parts when they have none (ids unique in the document). The
// document must not be changed afterwards; when it is written out, use CanonicalText and
// CanonicalAttrVal (as SignBytes does) so that CR, TAB and LF survive a re-parse.
func (s *Signer) Sign(doc *etree.Document) error {
	return s.SignAttachments(doc, nil)
}

// SignAttachments signs doc as Sign does and, in the same SignedInfo, each of atts: a Reference
// URI="cid:<Content-ID>" with the SwA Attachment-Content-Signature-Transform (see swa.go) and
// SHA-256. The attachments are read, not kept.
func (s *Signer) SignAttachments(doc *etree.Document, atts []Attachment) error {
	if s.KeyRef < RefBinaryToken || s.KeyRef >= RefX509Data {
		return fmt.Errorf("sign: key reference %s cannot be written", s.KeyRef)
	}
	env := doc.Root()
	if env == nil || env.Tag != "Envelope" || env.NamespaceURI() != NSSOAP {
		return errors.New("sign: the document is not a SOAP 1.1 Envelope")
	}
	var header, body *etree.Element
	for c := range env.ChildElementsSeq() {
		if c.NamespaceURI() != NSSOAP {
			continue
		}
		switch c.Tag {
		case "Header":
			if header != nil {
				return errors.New("sign: the Envelope has two soap:Header elements")
			}
			header = c
		case "Body":
			if body != nil {
				return errors.New("sign: the Envelope has two soap:Body elements")
			}
			body = c
		}
	}
	if body == nil {
		return errors.New("sign: the Envelope has no soap:Body")
	}
	if header == nil {
		header = etree.NewElement("Header")
		header.Space = env.Space
		env.InsertChildAt(body.Index(), header)
	}
	var parts []*etree.Element // the header block of each of s.Parts present, in that order
	for _, n := range s.Parts {
		var found *etree.Element
		for c := range header.ChildElementsSeq() {
			if c.Tag == n.Local && c.NamespaceURI() == n.Space {
				if found != nil {
					return fmt.Errorf("sign: the Header has two <%s> elements", c.FullTag())
				}
				found = c
			}
		}
		if found != nil {
			parts = append(parts, found)
		}
	}
	for c := range header.ChildElementsSeq() {
		if c.Tag == "Security" && c.NamespaceURI() == NSWSSE {
			return errors.New("sign: the message already has a wsse:Security header")
		}
	}

	ids := collectIDs(doc.Root())
	for id, els := range ids.wsu {
		if len(els) > 1 {
			return fmt.Errorf("sign: wsu:Id %q appears on %d elements", id, len(els))
		}
	}
	newID := func(base string) string {
		id := base
		for n := 2; ids.taken(id); n++ {
			id = base + "-" + strconv.Itoa(n)
		}
		ids.plain[id]++
		return id
	}
	ensureID := func(el *etree.Element, base string) string {
		if id := wsuID(el); id != "" {
			return id
		}
		p := bindPrefix(el, NSWSU, "wsu")
		id := newID(base)
		el.CreateAttr(p+":Id", id)
		return id
	}
	bodyID := ensureID(body, "id-Body")
	partIDs := make([]string, len(parts))
	for i, el := range parts {
		partIDs[i] = ensureID(el, "id-"+el.Tag)
	}
	tsID, bstID := newID("id-Timestamp"), ""
	if s.KeyRef == RefBinaryToken {
		bstID = newID("id-BinarySecurityToken")
	}

	soapPrefix := env.Space
	sec := etree.NewElement("wsse:Security")
	sec.CreateAttr("xmlns:wsse", NSWSSE)
	sec.CreateAttr("xmlns:wsu", NSWSU)
	if soapPrefix == "" || soapPrefix == "wsse" || soapPrefix == "wsu" || soapPrefix == "ds" {
		soapPrefix = "soapenv"
		sec.CreateAttr("xmlns:soapenv", NSSOAP)
	}
	sec.CreateAttr(soapPrefix+":mustUnderstand", "1")

	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	ttl := s.TTL
	if ttl <= 0 {
		ttl = DefaultTimestampTTL
	}
	created := now().UTC().Truncate(time.Millisecond)
	ts := sec.CreateElement("wsu:Timestamp")
	ts.CreateAttr("wsu:Id", tsID)
	ts.CreateElement("wsu:Created").SetText(created.Format(wsuTimeFormat))
	ts.CreateElement("wsu:Expires").SetText(created.Add(ttl).Format(wsuTimeFormat))

	if s.KeyRef == RefBinaryToken {
		bst := sec.CreateElement("wsse:BinarySecurityToken")
		bst.CreateAttr("EncodingType", encodingBase64)
		bst.CreateAttr("ValueType", valueTypeX509v3)
		bst.CreateAttr("wsu:Id", bstID)
		bst.SetText(base64.StdEncoding.EncodeToString(s.certs[0].Raw))
	}

	sig := sec.CreateElement("ds:Signature")
	sig.CreateAttr("xmlns:ds", NSDSig)
	si := sig.CreateElement("ds:SignedInfo")
	si.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", AlgExcC14N)
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", s.sigAlg)
	sigValue := sig.CreateElement("ds:SignatureValue")
	if err := keyInfoElement(sig, s.KeyRef, s.certs[0], bstID); err != nil {
		return fmt.Errorf("sign: %w", err)
	}

	header.InsertChildAt(firstElementIndex(header), sec)

	type target struct {
		id string
		el *etree.Element
	}
	targets := []target{{bodyID, body}}
	for i, el := range parts {
		targets = append(targets, target{partIDs[i], el})
	}
	targets = append(targets, target{tsID, ts})
	for _, t := range targets {
		digest, err := digestCanonical(crypto.SHA256, t.el, nil)
		if err != nil {
			return fmt.Errorf("sign: #%s: %w", t.id, err)
		}
		r := etree.NewElement("ds:Reference")
		r.CreateAttr("URI", "#"+t.id)
		r.CreateElement("ds:Transforms").CreateElement("ds:Transform").CreateAttr("Algorithm", AlgExcC14N)
		r.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", AlgSHA256)
		r.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(digest))
		si.AddChild(r)
	}
	seenCID := map[string]bool{}
	for _, a := range atts {
		if a.ContentID == "" || seenCID[a.ContentID] {
			return fmt.Errorf("sign: attachment Content-ID %q is empty or not unique", a.ContentID)
		}
		seenCID[a.ContentID] = true
		digest, err := attachmentDigest(crypto.SHA256, a)
		if err != nil {
			return fmt.Errorf("sign: %w", err)
		}
		r := etree.NewElement("ds:Reference")
		r.CreateAttr("URI", "cid:"+url.PathEscape(a.ContentID))
		r.CreateElement("ds:Transforms").CreateElement("ds:Transform").CreateAttr("Algorithm", AlgSwAContent)
		r.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", AlgSHA256)
		r.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(digest))
		si.AddChild(r)
	}
	c, err := canonicalize(si, nil)
	if err != nil {
		return fmt.Errorf("sign: SignedInfo: %w", err)
	}
	h := s.hash.New()
	h.Write(c)
	value, err := s.key.Sign(rand.Reader, h.Sum(nil), s.hash)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	if s.size > 0 {
		if value, err = ecdsaDERToRaw(value, s.size); err != nil {
			return fmt.Errorf("sign: %w", err)
		}
	}
	sigValue.SetText(base64.StdEncoding.EncodeToString(value))
	return nil
}

const wsuTimeFormat = "2006-01-02T15:04:05.000Z07:00"

func firstElementIndex(el *etree.Element) int {
	for i, t := range el.Child {
		if _, ok := t.(*etree.Element); ok {
			return i
		}
	}
	return len(el.Child)
}

// bindPrefix returns a prefix bound to uri at el, declaring it on el when needed (preferring
// the prefix want, or want followed by a number when want is bound to another namespace).
func bindPrefix(el *etree.Element, uri, want string) string {
	scope := map[string]string{}
	var chain []*etree.Element
	for p := el; p != nil; p = p.Parent() {
		chain = append(chain, p)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		addDecls(scope, chain[i])
	}
	p := want
	for n := 1; ; n++ {
		v, ok := scope[p]
		if ok && v == uri {
			return p
		}
		if !ok {
			el.CreateAttr("xmlns:"+p, uri)
			return p
		}
		p = want + strconv.Itoa(n)
	}
}

// ecdsaDERToRaw converts an ASN.1 ECDSA signature into the r‖s form of XML-DSig.
func ecdsaDERToRaw(der []byte, size int) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) > 0 || sig.R == nil || sig.S == nil {
		return nil, errors.New("ECDSA signature is not valid ASN.1")
	}
	out := make([]byte, 2*size)
	sig.R.FillBytes(out[:size])
	sig.S.FillBytes(out[size:])
	return out, nil
}

// idIndex records the identifiers of a document: wsu:Id values (matched by namespace URI) with
// their elements, and plain Id, ID and id attributes, which some processors also resolve.
type idIndex struct {
	wsu   map[string][]*etree.Element
	plain map[string]int
}

func (x idIndex) taken(id string) bool { return len(x.wsu[id]) > 0 || x.plain[id] > 0 }

func collectIDs(root *etree.Element) idIndex {
	x := idIndex{wsu: map[string][]*etree.Element{}, plain: map[string]int{}}
	stack := []*etree.Element{root}
	for len(stack) > 0 {
		el := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for i := range el.Attr {
			a := &el.Attr[i]
			switch {
			case a.Space == "" && (a.Key == "Id" || a.Key == "ID" || a.Key == "id"):
				x.plain[a.Value]++
			case a.Space != "" && a.Space != "xmlns" && a.Key == "Id" && a.NamespaceURI() == NSWSU:
				x.wsu[a.Value] = append(x.wsu[a.Value], el)
			}
		}
		for c := range el.ChildElementsSeq() {
			stack = append(stack, c)
		}
	}
	return x
}

// wsuID returns el's wsu:Id (matched by namespace URI), or "".
func wsuID(el *etree.Element) string {
	for i := range el.Attr {
		a := &el.Attr[i]
		if a.Space != "" && a.Space != "xmlns" && a.Key == "Id" && a.NamespaceURI() == NSWSU {
			return a.Value
		}
	}
	return ""
}
