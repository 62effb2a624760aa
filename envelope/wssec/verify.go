package wssec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	_ "crypto/sha256" // digests of the allow-list
	_ "crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"
	"porta/internal/xmlsafe"
)

// DefaultMaxSkew is the clock difference a Verifier tolerates when MaxSkew is zero.
const DefaultMaxSkew = 5 * time.Minute

// Verifier checks the WS-Security signature of SOAP envelopes. It accepts exactly what Porta's
// policy allows: one soap:Header, one soap:Body, one wsse:Security with one ds:Signature and one
// wsu:Timestamp; references by wsu:Id (namespace URI matched, unique in the document) to the
// actual soap:Body, the actual header block of each of Parts (when the message has it) and the
// actual Timestamp, each with the exc-c14n transform only; RSA or ECDSA with SHA-256/384/512; a
// signing certificate trusted by Trust; a Timestamp fresh within MaxSkew.
//
// The signing certificate is designated by ds:KeyInfo in one of the forms of KeyRef (one
// wsse:SecurityTokenReference or one ds:X509Data, nothing else). Forms that carry the certificate
// (a wsse:Reference to a BinarySecurityToken child of the same wsse:Security, a KeyIdentifier of
// ValueType X509v3, ds:X509Certificate) use the carried one. Forms that only name it
// (X509IssuerSerial, the X509SubjectKeyIdentifier KeyIdentifier or ds:X509SKI, the ThumbprintSHA1
// KeyIdentifier) are resolved among the certificates the caller knows for the claimed signer
// (VerifyDocumentFrom's known) and nowhere else: a name that matches none of them, or matches
// two different ones, is a Policy failure, as is a named certificate when known is empty. A
// certificate the message neither carries nor the caller knows is never used. Whichever form,
// the certificate then passes Trust (validity, key usage, pinned or chained), and Verified.KeyRef
// says which form was used.
//
// Failures are *Error: Changed when signed content or SignedInfo changed, Invalid when the
// XML-DSig structure is not acceptable (wrapping, duplicate or unresolvable Id, disallowed
// algorithm or transform), Policy when the security policy is not met (nothing signed, a
// required part unsigned, untrusted or expired certificate, stale Timestamp), Malformed when the
// input is not acceptable XML or not a SOAP envelope.
type Verifier struct {
	Trust   *TrustStore
	MaxSkew time.Duration    // zero means DefaultMaxSkew
	Now     func() time.Time // nil means time.Now
	Limits  xmlsafe.Limits   // zero means xmlsafe.DefaultLimits
	// Parts are the header blocks (soap:Header children, by expanded name) that must be signed
	// when the message carries them; a message may carry each at most once.
	Parts []xml.Name
}

// Verified is what a Verifier vouches for: a document rebuilt from the canonical bytes that were
// digested (a soap:Envelope whose soap:Header holds only the verified Parts, and the verified
// soap:Body), never the input tree.
type Verified struct {
	Doc         *etree.Document
	Parts       map[xml.Name]*etree.Element // the verified copy of each of Verifier.Parts the message has
	Body        *etree.Element
	Certificate *x509.Certificate
	KeyRef      KeyRef // how the KeyInfo designated Certificate
	Created     time.Time
	Expires     time.Time
	// Attachments maps the Content-ID of each verified attachment to its digest (SignedInfo's
	// DigestValue, which matched).
	Attachments map[string][]byte
}

// Verify parses data with xmlsafe.Parse and verifies it.
func (v *Verifier) Verify(data []byte) (*Verified, error) { return v.VerifyFrom(data, nil) }

// VerifyFrom parses data with xmlsafe.Parse and verifies it as VerifyDocumentFrom does.
func (v *Verifier) VerifyFrom(data []byte, known []*x509.Certificate) (*Verified, error) {
	lim := v.Limits
	if lim == (xmlsafe.Limits{}) {
		lim = xmlsafe.DefaultLimits
	}
	doc, err := xmlsafe.Parse(data, lim)
	if err != nil {
		return nil, &Error{Kind: Malformed, Pos: "Envelope", Reason: err.Error()}
	}
	return v.VerifyDocumentFrom(doc, known)
}

// errors of the three families, with their position in the message.
func dsigErr(pos, format string, a ...any) *Error   { return newError(Invalid, pos, format, a...) }
func policyErr(pos, format string, a ...any) *Error { return newError(Policy, pos, format, a...) }
func changedErr(pos, format string, a ...any) *Error {
	return newError(Changed, pos, format, a...)
}

var digestAlgs = map[string]crypto.Hash{
	AlgSHA256: crypto.SHA256,
	AlgSHA384: crypto.SHA384,
	AlgSHA512: crypto.SHA512,
}

type sigAlg struct {
	hash  crypto.Hash
	ecdsa bool
}

var signatureAlgs = map[string]sigAlg{
	AlgRSASHA256:   {crypto.SHA256, false},
	AlgRSASHA384:   {crypto.SHA384, false},
	AlgRSASHA512:   {crypto.SHA512, false},
	AlgECDSASHA256: {crypto.SHA256, true},
	AlgECDSASHA384: {crypto.SHA384, true},
	AlgECDSASHA512: {crypto.SHA512, true},
}

// children returns el's child elements with namespace ns and local name local.
func children(el *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for c := range el.ChildElementsSeq() {
		if c.Tag == local && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

// one returns the single child ns:local of el, or an EGOV_IT_202 error naming pos.
func one(el *etree.Element, ns, local, pos string) (*etree.Element, error) {
	var found *etree.Element
	n := 0
	for c := range el.ChildElementsSeq() {
		if c.Tag == local && c.NamespaceURI() == ns {
			found = c
			n++
		}
	}
	if n != 1 {
		return nil, dsigErr(pos, "%d %s elements in <%s>, want exactly 1", n, local, el.FullTag())
	}
	return found, nil
}

// textOf returns the character data of a leaf element, or an error when it has child elements.
func textOf(el *etree.Element, pos string) (string, error) {
	for _, t := range el.Child {
		if t, ok := t.(*etree.Element); ok {
			return "", dsigErr(pos, "<%s> has an unexpected child <%s>", el.FullTag(), t.FullTag())
		}
	}
	return strings.TrimSpace(xmlsafe.CharData(el)), nil
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.DecodeString(s)
}

// c14nMethod checks an element carrying an Algorithm (CanonicalizationMethod or Transform) is
// exclusive C14N without comments and returns its InclusiveNamespaces PrefixList.
func c14nMethod(el *etree.Element, pos string) ([]string, error) {
	alg := el.SelectAttrValue("Algorithm", "")
	if alg != AlgExcC14N {
		return nil, dsigErr(pos, "algorithm %q is not allowed (only exclusive C14N %s)", alg, AlgExcC14N)
	}
	var prefixes []string
	for c := range el.ChildElementsSeq() {
		if c.Tag != "InclusiveNamespaces" || c.NamespaceURI() != NSExcC14N {
			return nil, dsigErr(pos, "unexpected <%s> in <%s>", c.FullTag(), el.FullTag())
		}
		prefixes = append(prefixes, strings.Fields(c.SelectAttrValue("PrefixList", ""))...)
	}
	return prefixes, nil
}

type reference struct {
	id       string
	prefixes []string
	hash     crypto.Hash
	digest   []byte
	el       *etree.Element
}

// VerifyDocument verifies doc, which it does not modify, knowing no certificate of the signer
// beforehand: only a KeyInfo that carries the certificate can succeed. A message with
// attachments is verified with VerifyAttachments.
func (v *Verifier) VerifyDocument(doc *etree.Document) (*Verified, error) {
	return v.VerifyAttachments(doc, nil, nil)
}

// VerifyDocumentFrom verifies doc, which it does not modify. known are the certificates of the
// party the message claims to come from (for a busta, the registry's certificates of its
// Mittente): a KeyInfo that names the signing certificate instead of carrying it is resolved
// among them and nowhere else.
func (v *Verifier) VerifyDocumentFrom(doc *etree.Document, known []*x509.Certificate) (*Verified, error) {
	return v.VerifyAttachments(doc, nil, known)
}

// VerifyAttachments verifies doc, the root part of a SOAP with Attachments message, and its
// attachments atts (see swa.go), resolving a KeyInfo that names the certificate among known as
// VerifyDocumentFrom does: besides what VerifyDocument requires, every attachment must be
// referenced once as cid:<Content-ID> with the Attachment-Content-Signature-Transform, and its
// digest must match (else Changed). Verified.Attachments then holds each attachment's digest.
func (v *Verifier) VerifyAttachments(doc *etree.Document, atts []Attachment, known []*x509.Certificate) (*Verified, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	env := doc.Root()
	if env == nil || env.Tag != "Envelope" || env.NamespaceURI() != NSSOAP {
		return nil, &Error{Kind: Malformed, Pos: "Envelope", Reason: "the document is not a SOAP 1.1 Envelope"}
	}
	headers, bodies := children(env, NSSOAP, "Header"), children(env, NSSOAP, "Body")
	if len(bodies) == 0 {
		return nil, &Error{Kind: Malformed, Pos: "Envelope/Body", Reason: "the Envelope has no soap:Body"}
	}
	if len(bodies) > 1 {
		return nil, dsigErr("Envelope/Body", "the Envelope has %d soap:Body elements, want 1", len(bodies))
	}
	if len(headers) == 0 {
		return nil, policyErr("Security", "the message has no soap:Header and so no WS-Security signature")
	}
	if len(headers) > 1 {
		return nil, dsigErr("Envelope/Header", "the Envelope has %d soap:Header elements, want 1", len(headers))
	}
	header, body := headers[0], bodies[0]
	secs := children(header, NSWSSE, "Security")
	if len(secs) == 0 {
		return nil, policyErr("Security", "no wsse:Security header: the message is not signed")
	}
	if len(secs) > 1 {
		return nil, dsigErr("Security", "%d wsse:Security headers, want 1", len(secs))
	}
	sec := secs[0]
	sigs := children(sec, NSDSig, "Signature")
	if len(sigs) == 0 {
		return nil, policyErr("Security/Signature", "wsse:Security holds no ds:Signature: the message is not signed")
	}
	if len(sigs) > 1 {
		return nil, dsigErr("Security/Signature", "wsse:Security holds %d ds:Signature elements, want 1", len(sigs))
	}
	sig := sigs[0]
	tss := children(sec, NSWSU, "Timestamp")
	if len(tss) == 0 {
		return nil, policyErr("Security/Timestamp", "wsse:Security holds no wsu:Timestamp")
	}
	if len(tss) > 1 {
		return nil, dsigErr("Security/Timestamp", "wsse:Security holds %d wsu:Timestamp elements, want 1", len(tss))
	}
	timestamp := tss[0]
	parts := map[xml.Name]*etree.Element{} // the header block of each of v.Parts present
	for _, n := range v.Parts {
		els := children(header, n.Space, n.Local)
		if len(els) > 1 {
			return nil, dsigErr(n.Local, "the Header holds %d <%s> elements, want at most 1", len(els), els[0].FullTag())
		}
		if len(els) == 1 {
			parts[n] = els[0]
		}
	}

	ids := collectIDs(env)
	for id, els := range ids.wsu {
		if len(els) > 1 {
			return nil, dsigErr("Security/Signature", "wsu:Id %q appears on %d elements (<%s> and <%s>): ids must be unique", id, len(els), els[0].FullTag(), els[1].FullTag())
		}
	}

	// SignedInfo: everything that is used from it is read from its canonical bytes, the bytes the
	// SignatureValue covers.
	siEl, err := one(sig, NSDSig, "SignedInfo", "Security/Signature")
	if err != nil {
		return nil, err
	}
	cmEl, err := one(siEl, NSDSig, "CanonicalizationMethod", "Security/Signature/SignedInfo")
	if err != nil {
		return nil, err
	}
	siPrefixes, err := c14nMethod(cmEl, "Security/Signature/SignedInfo/CanonicalizationMethod")
	if err != nil {
		return nil, err
	}
	siBytes, err := canonicalize(siEl, siPrefixes)
	if err != nil {
		return nil, dsigErr("Security/Signature/SignedInfo", "%v", err)
	}
	siDoc, err := xmlsafe.Parse(siBytes, xmlsafe.DefaultLimits)
	if err != nil {
		return nil, dsigErr("Security/Signature/SignedInfo", "canonical SignedInfo does not parse: %v", err)
	}
	si := siDoc.Root()
	smEl, err := one(si, NSDSig, "SignatureMethod", "Security/Signature/SignedInfo")
	if err != nil {
		return nil, err
	}
	smAlg := smEl.SelectAttrValue("Algorithm", "")
	alg, ok := signatureAlgs[smAlg]
	if !ok {
		return nil, dsigErr("Security/Signature/SignedInfo/SignatureMethod", "signature algorithm %q is not allowed (RSA or ECDSA with SHA-256/384/512)", smAlg)
	}
	if len(smEl.ChildElements()) > 0 {
		return nil, dsigErr("Security/Signature/SignedInfo/SignatureMethod", "SignatureMethod has unexpected child elements")
	}
	for c := range si.ChildElementsSeq() {
		if c.NamespaceURI() != NSDSig || (c.Tag != "CanonicalizationMethod" && c.Tag != "SignatureMethod" && c.Tag != "Reference") {
			return nil, dsigErr("Security/Signature/SignedInfo", "unexpected <%s> in SignedInfo", c.FullTag())
		}
	}

	var refs []reference
	var attRefs []attachmentRef
	seen := map[string]bool{}
	for _, r := range children(si, NSDSig, "Reference") {
		uri := r.SelectAttrValue("URI", "")
		pos := "Security/Signature/SignedInfo/Reference[" + uri + "]"
		if strings.HasPrefix(uri, "cid:") {
			ar, err := readAttachmentRef(r, uri, pos)
			if err != nil {
				return nil, err
			}
			if seen[uri] {
				return nil, dsigErr(pos, "%s is referenced twice", uri)
			}
			seen[uri] = true
			attRefs = append(attRefs, ar)
			continue
		}
		if !strings.HasPrefix(uri, "#") || len(uri) < 2 || strings.ContainsAny(uri, "()") {
			return nil, dsigErr(pos, "reference URI %q is not a same-document #id reference", uri)
		}
		ref := reference{id: uri[1:]}
		if seen[ref.id] {
			return nil, dsigErr(pos, "%s is referenced twice", uri)
		}
		seen[ref.id] = true
		for c := range r.ChildElementsSeq() {
			if c.NamespaceURI() != NSDSig || (c.Tag != "Transforms" && c.Tag != "DigestMethod" && c.Tag != "DigestValue") {
				return nil, dsigErr(pos, "unexpected <%s> in Reference", c.FullTag())
			}
		}
		trs, err := one(r, NSDSig, "Transforms", pos)
		if err != nil {
			return nil, err
		}
		tr := trs.ChildElements()
		if len(tr) != 1 || tr[0].Tag != "Transform" || tr[0].NamespaceURI() != NSDSig {
			return nil, dsigErr(pos, "Transforms must hold exactly one ds:Transform (exclusive C14N), found %d elements", len(tr))
		}
		if ref.prefixes, err = c14nMethod(tr[0], pos+"/Transform"); err != nil {
			return nil, err
		}
		dm, err := one(r, NSDSig, "DigestMethod", pos)
		if err != nil {
			return nil, err
		}
		dmAlg := dm.SelectAttrValue("Algorithm", "")
		if ref.hash, ok = digestAlgs[dmAlg]; !ok {
			return nil, dsigErr(pos+"/DigestMethod", "digest algorithm %q is not allowed (SHA-256/384/512)", dmAlg)
		}
		dvEl, err := one(r, NSDSig, "DigestValue", pos)
		if err != nil {
			return nil, err
		}
		dv, err := textOf(dvEl, pos+"/DigestValue")
		if err != nil {
			return nil, err
		}
		if ref.digest, err = decodeBase64(dv); err != nil || len(ref.digest) != ref.hash.Size() {
			return nil, dsigErr(pos+"/DigestValue", "DigestValue is not a base64 %d-byte digest", ref.hash.Size())
		}
		els := ids.wsu[ref.id]
		if len(els) == 0 {
			if ids.plain[ref.id] > 0 {
				return nil, dsigErr(pos, "%s matches only an Id attribute outside the wsu namespace", uri)
			}
			return nil, dsigErr(pos, "%s matches no wsu:Id in the message", uri)
		}
		if ids.plain[ref.id] > 0 {
			return nil, dsigErr(pos, "%s is ambiguous: another element carries Id=%q", uri, ref.id)
		}
		ref.el = els[0]
		// Anti-wrapping: an element named like a required part must be that part (a part the
		// Header does not carry has nothing that may stand in for it).
		name := xml.Name{Space: ref.el.NamespaceURI(), Local: ref.el.Tag}
		own, required := parts[name], slices.Contains(v.Parts, name)
		switch name {
		case xml.Name{Space: NSSOAP, Local: "Body"}:
			own, required = body, true
		case xml.Name{Space: NSWSU, Local: "Timestamp"}:
			own, required = timestamp, true
		}
		if required && ref.el != own {
			return nil, dsigErr(pos, "%s points to a <%s> that is not the message's own (signature wrapping)", uri, ref.el.FullTag())
		}
		refs = append(refs, ref)
	}
	if len(refs) == 0 {
		return nil, dsigErr("Security/Signature/SignedInfo", "SignedInfo has no Reference")
	}
	signed := func(el *etree.Element) bool {
		for _, r := range refs {
			if r.el == el {
				return true
			}
		}
		return false
	}
	if !signed(body) {
		return nil, policyErr("Security/Signature", "the soap:Body is not signed (no Reference to it)")
	}
	for _, n := range v.Parts {
		if el := parts[n]; el != nil && !signed(el) {
			return nil, policyErr("Security/Signature", "the header block %s is not signed (no Reference to it)", el.FullTag())
		}
	}
	if !signed(timestamp) {
		return nil, policyErr("Security/Signature", "the wsu:Timestamp is not signed (no Reference to it)")
	}

	// The signing certificate.
	key, err := keyInfoCert(sig, sec, ids, known)
	if err != nil {
		return nil, err
	}
	cert := key.cert
	if err := v.Trust.check(cert, key.intermediates, now()); err != nil {
		return nil, policyErr("Security/Signature/KeyInfo", "%v", err)
	}

	// SignatureValue over the canonical SignedInfo.
	svEl, err := one(sig, NSDSig, "SignatureValue", "Security/Signature")
	if err != nil {
		return nil, err
	}
	sv, err := textOf(svEl, "Security/Signature/SignatureValue")
	if err != nil {
		return nil, err
	}
	sigBytes, err := decodeBase64(sv)
	if err != nil {
		return nil, dsigErr("Security/Signature/SignatureValue", "SignatureValue is not base64: %v", err)
	}
	h := alg.hash.New()
	h.Write(siBytes)
	if err := checkSignature(cert.PublicKey, alg, h.Sum(nil), sigBytes); err != nil {
		return nil, err
	}
	if err := checkAttachments(attRefs, atts); err != nil {
		return nil, err
	}

	// Digests, from the canonical form of each referenced element streamed into its hash; the
	// same walk copies the element as those canonical bytes parse, and the copies are what the
	// caller gets.
	canon := map[*etree.Element]*etree.Element{}
	for _, r := range refs {
		pos := "Security/Signature/SignedInfo/Reference[#" + r.id + "]"
		digest, cp, err := canonicalCopy(r.hash, r.el, r.prefixes)
		if err != nil {
			return nil, dsigErr(pos, "%v", err)
		}
		if !hmac.Equal(digest, r.digest) {
			return nil, changedErr("Security/Signature", "digest of #%s (<%s>) does not match: its content changed after signing", r.id, r.el.FullTag())
		}
		if cp == nil {
			// What the copy does not rebuild (processing instructions, elements with very many
			// attributes): the canonical bytes, parsed.
			if cp, err = parseCanonical(r.el, r.prefixes, r.el.Tag); err != nil {
				return nil, err
			}
		}
		canon[r.el] = cp
	}

	// The Timestamp, as signed.
	created, expires, err := parseTimestamp(canon[timestamp])
	if err != nil {
		return nil, err
	}
	t := now()
	if created.After(t.Add(skew)) {
		return nil, policyErr("Security/Timestamp", "Timestamp Created %s is in the future (now %s, skew %s)", created.Format(time.RFC3339), t.UTC().Format(time.RFC3339), skew)
	}
	if !expires.After(t.Add(-skew)) {
		return nil, policyErr("Security/Timestamp", "Timestamp expired at %s (now %s, skew %s): the message is stale", expires.Format(time.RFC3339), t.UTC().Format(time.RFC3339), skew)
	}

	out := &Verified{Certificate: cert, KeyRef: key.ref, Created: created, Expires: expires, Parts: map[xml.Name]*etree.Element{}}
	for _, r := range attRefs {
		if out.Attachments == nil {
			out.Attachments = map[string][]byte{}
		}
		out.Attachments[r.cid] = r.digest
	}
	var signedParts []*etree.Element
	for _, n := range v.Parts {
		if el := parts[n]; el != nil {
			out.Parts[n] = canon[el]
			signedParts = append(signedParts, canon[el])
		}
	}
	out.Doc, out.Body = rebuild(signedParts, canon[body])
	return out, nil
}

// readAttachmentRef reads a SignedInfo Reference to an attachment: URI cid:<Content-ID>, one
// ds:Transform AlgSwAContent, an allowed DigestMethod and its DigestValue.
func readAttachmentRef(r *etree.Element, uri, pos string) (attachmentRef, error) {
	var ar attachmentRef
	cid, err := url.PathUnescape(strings.TrimPrefix(uri, "cid:"))
	if err != nil || cid == "" {
		return ar, dsigErr(pos, "reference URI %q is not a cid: URL", uri)
	}
	ar.cid = cid
	for c := range r.ChildElementsSeq() {
		if c.NamespaceURI() != NSDSig || (c.Tag != "Transforms" && c.Tag != "DigestMethod" && c.Tag != "DigestValue") {
			return ar, dsigErr(pos, "unexpected <%s> in Reference", c.FullTag())
		}
	}
	trs, err := one(r, NSDSig, "Transforms", pos)
	if err != nil {
		return ar, err
	}
	tr := trs.ChildElements()
	if len(tr) != 1 || tr[0].Tag != "Transform" || tr[0].NamespaceURI() != NSDSig || len(tr[0].ChildElements()) > 0 {
		return ar, dsigErr(pos, "Transforms of an attachment must hold exactly one ds:Transform (%s), found %d elements", AlgSwAContent, len(tr))
	}
	if alg := tr[0].SelectAttrValue("Algorithm", ""); alg != AlgSwAContent {
		return ar, dsigErr(pos+"/Transform", "algorithm %q is not allowed for an attachment (only %s)", alg, AlgSwAContent)
	}
	dm, err := one(r, NSDSig, "DigestMethod", pos)
	if err != nil {
		return ar, err
	}
	dmAlg := dm.SelectAttrValue("Algorithm", "")
	var ok bool
	if ar.hash, ok = digestAlgs[dmAlg]; !ok {
		return ar, dsigErr(pos+"/DigestMethod", "digest algorithm %q is not allowed (SHA-256/384/512)", dmAlg)
	}
	dvEl, err := one(r, NSDSig, "DigestValue", pos)
	if err != nil {
		return ar, err
	}
	dv, err := textOf(dvEl, pos+"/DigestValue")
	if err != nil {
		return ar, err
	}
	if ar.digest, err = decodeBase64(dv); err != nil || len(ar.digest) != ar.hash.Size() {
		return ar, dsigErr(pos+"/DigestValue", "DigestValue is not a base64 %d-byte digest", ar.hash.Size())
	}
	return ar, nil
}

func parseCertB64(text string) (*x509.Certificate, error) {
	if c := cachedCert(text); c != nil {
		return c, nil
	}
	der, err := decodeBase64(text)
	if err != nil {
		return nil, fmt.Errorf("certificate is not base64: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certificate does not parse: %v", err)
	}
	cacheCert(text, cert)
	return cert, nil
}

// checkSignature verifies an XML-DSig SignatureValue (PKCS#1 v1.5 for RSA, r‖s for ECDSA).
func checkSignature(pub crypto.PublicKey, alg sigAlg, digest, sig []byte) error {
	const pos = "Security/Signature/SignatureValue"
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if alg.ecdsa {
			return dsigErr(pos, "ECDSA SignatureMethod with an RSA certificate")
		}
		if k.N.BitLen() < 2048 {
			return policyErr(pos, "RSA key of %d bits, want at least 2048", k.N.BitLen())
		}
		if err := rsa.VerifyPKCS1v15(k, alg.hash, digest, sig); err != nil {
			return changedErr(pos, "SignatureValue does not match SignedInfo: %v", err)
		}
	case *ecdsa.PublicKey:
		if !alg.ecdsa {
			return dsigErr(pos, "RSA SignatureMethod with an ECDSA certificate")
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return changedErr(pos, "ECDSA SignatureValue is %d bytes, want r‖s of %d", len(sig), 2*size)
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(k, digest, r, s) {
			return changedErr(pos, "SignatureValue does not match SignedInfo")
		}
	default:
		return policyErr(pos, "certificate key type %T is not supported", k)
	}
	return nil
}

func parseTimestamp(ts *etree.Element) (created, expires time.Time, err error) {
	const pos = "Security/Timestamp"
	get := func(name string) (time.Time, error) {
		els := children(ts, NSWSU, name)
		if len(els) != 1 {
			return time.Time{}, policyErr(pos, "Timestamp has %d %s elements, want 1", len(els), name)
		}
		s, err := textOf(els[0], pos+"/"+name)
		if err != nil {
			return time.Time{}, err
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, policyErr(pos, "Timestamp %s %q is not an xsd:dateTime with a time zone", name, s)
		}
		return t, nil
	}
	if created, err = get("Created"); err != nil {
		return
	}
	expires, err = get("Expires")
	return
}

// parseCanonical parses the canonical form of el (what to refer to it as: what).
func parseCanonical(el *etree.Element, inclusive []string, what string) (*etree.Element, error) {
	c, err := canonicalize(el, inclusive)
	if err != nil {
		return nil, dsigErr(what, "%v", err)
	}
	d, err := xmlsafe.Parse(c, xmlsafe.DefaultLimits)
	if err != nil {
		return nil, dsigErr(what, "canonical %s does not parse: %v", what, err)
	}
	return d.Root(), nil
}

// rebuild assembles the verified document from the canonical copies of the signed header
// blocks and of the Body.
func rebuild(headers []*etree.Element, body *etree.Element) (*etree.Document, *etree.Element) {
	doc := etree.NewDocument()
	env := doc.CreateElement("soap:Envelope")
	env.CreateAttr("xmlns:soap", NSSOAP)
	hdr := env.CreateElement("soap:Header")
	for _, h := range headers {
		hdr.AddChild(h)
	}
	env.AddChild(body)
	return doc, body
}
