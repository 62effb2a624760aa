package wssec

import (
	"bytes"
	"crypto/sha1" // the X.509 token profile's thumbprints and key identifiers are SHA-1: names, not signatures
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"

	"github.com/beevik/etree"
)

// KeyRef is how a signature's ds:KeyInfo designates the signing certificate (WS-Security X.509
// token profile 1.1 §3.2, and XML-DSig's ds:X509Data). The names are those of WSS4J's key
// identifier types, as the peer's --key-ref spells them.
type KeyRef int

const (
	// RefBinaryToken: a wsse:SecurityTokenReference/wsse:Reference to a wsse:BinarySecurityToken
	// of the same wsse:Security that carries the certificate (the Signer's default).
	RefBinaryToken KeyRef = iota
	// RefIssuerSerial: a wsse:SecurityTokenReference/ds:X509Data/ds:X509IssuerSerial (WSS4J 1.6's
	// default). The certificate is not carried; it is looked up among the known certificates.
	RefIssuerSerial
	// RefX509KeyIdentifier: a wsse:KeyIdentifier of ValueType X509v3 whose text is the
	// certificate itself.
	RefX509KeyIdentifier
	// RefSubjectKeyIdentifier: a wsse:KeyIdentifier of ValueType X509SubjectKeyIdentifier: the
	// certificate's subject key identifier extension, or, for a certificate without one, the
	// SHA-1 of its subjectPublicKey bits (RFC 5280 §4.2.1.2, as WSS4J computes it). Looked up.
	RefSubjectKeyIdentifier
	// RefThumbprint: a wsse:KeyIdentifier of ValueType ThumbprintSHA1 (WSS 1.1): the SHA-1 of the
	// certificate's DER. Looked up.
	RefThumbprint
	// RefX509Data: ds:X509Data directly in ds:KeyInfo, holding the certificate (and maybe
	// intermediates) as ds:X509Certificate, or naming it by ds:X509IssuerSerial or ds:X509SKI
	// (looked up). The Signer does not write it.
	RefX509Data
)

var keyRefNames = [...]string{"bst", "issuer-serial", "x509", "ski", "thumbprint", "x509data"}

func (r KeyRef) String() string {
	if r >= 0 && int(r) < len(keyRefNames) {
		return keyRefNames[r]
	}
	return fmt.Sprintf("KeyRef(%d)", int(r))
}

// ParseKeyRef reads a KeyRef by its String name (bst, issuer-serial, x509, ski, thumbprint).
func ParseKeyRef(s string) (KeyRef, error) {
	for i, n := range keyRefNames[:RefX509Data] {
		if s == n {
			return KeyRef(i), nil
		}
	}
	return 0, fmt.Errorf("key reference %q: want bst, issuer-serial, x509, ski or thumbprint", s)
}

// ValueTypes of wsse:KeyIdentifier.
const (
	valueTypeSKI        = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier"
	valueTypeThumbprint = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1"
)

// signingKey is what ds:KeyInfo led to: the certificate, how it was designated, and the other
// certificates the message carried beside it.
type signingKey struct {
	cert          *x509.Certificate
	intermediates []*x509.Certificate
	ref           KeyRef
}

// keyInfoCert finds the signing certificate. A form that carries the certificate (a
// BinarySecurityToken of this wsse:Security, an X509v3 KeyIdentifier, ds:X509Certificate)
// yields it as carried; a form that only names it (issuer and serial, subject key identifier,
// thumbprint) yields the one of known it names, and a Policy error when none does. Either way
// the caller checks the certificate against the TrustStore.
func keyInfoCert(sig, sec *etree.Element, ids idIndex, known []*x509.Certificate) (signingKey, error) {
	const pos = "Security/Signature/KeyInfo"
	ki, err := one(sig, NSDSig, "KeyInfo", "Security/Signature")
	if err != nil {
		return signingKey{}, err
	}
	strs, xds := children(ki, NSWSSE, "SecurityTokenReference"), children(ki, NSDSig, "X509Data")
	if len(strs)+len(xds) != 1 || len(ki.ChildElements()) != 1 {
		return signingKey{}, dsigErr(pos, "KeyInfo holds neither one wsse:SecurityTokenReference nor one ds:X509Data")
	}
	if len(xds) == 1 {
		return x509DataCert(xds[0], pos+"/X509Data", RefX509Data, known)
	}
	str := strs[0]
	const strPos = pos + "/SecurityTokenReference"
	refs := str.ChildElements()
	if len(refs) != 1 {
		return signingKey{}, dsigErr(strPos, "SecurityTokenReference holds %d elements, want 1", len(refs))
	}
	r := refs[0]
	switch {
	case r.Tag == "Reference" && r.NamespaceURI() == NSWSSE:
		cert, err := bstCert(r, sec, ids, strPos)
		return signingKey{cert: cert, ref: RefBinaryToken}, err
	case r.Tag == "X509Data" && r.NamespaceURI() == NSDSig:
		if len(children(r, NSDSig, "X509IssuerSerial")) != 1 || len(r.ChildElements()) != 1 {
			return signingKey{}, dsigErr(strPos+"/X509Data", "a SecurityTokenReference's X509Data must hold exactly one X509IssuerSerial")
		}
		return x509DataCert(r, strPos+"/X509Data", RefIssuerSerial, known)
	case r.Tag == "KeyIdentifier" && r.NamespaceURI() == NSWSSE:
		return keyIdentifierCert(r, strPos+"/KeyIdentifier", known)
	}
	return signingKey{}, dsigErr(strPos, "unexpected <%s> in SecurityTokenReference (want wsse:Reference, wsse:KeyIdentifier or ds:X509Data)", r.FullTag())
}

// bstCert reads the certificate of the BinarySecurityToken a wsse:Reference points to, which
// must be a child of this wsse:Security.
func bstCert(r, sec *etree.Element, ids idIndex, pos string) (*x509.Certificate, error) {
	uri := r.SelectAttrValue("URI", "")
	if !strings.HasPrefix(uri, "#") || len(uri) < 2 {
		return nil, dsigErr(pos, "SecurityTokenReference URI %q is not a #id reference", uri)
	}
	els := ids.wsu[uri[1:]]
	if len(els) != 1 || ids.plain[uri[1:]] > 0 || els[0].Tag != "BinarySecurityToken" || els[0].NamespaceURI() != NSWSSE || els[0].Parent() != sec {
		return nil, dsigErr(pos, "SecurityTokenReference %s does not point to a wsse:BinarySecurityToken of this wsse:Security", uri)
	}
	bst := els[0]
	if vt := bst.SelectAttrValue("ValueType", ""); vt != valueTypeX509v3 {
		return nil, dsigErr(pos, "BinarySecurityToken ValueType %q is not X509v3", vt)
	}
	if et := bst.SelectAttrValue("EncodingType", encodingBase64); et != encodingBase64 {
		return nil, dsigErr(pos, "BinarySecurityToken EncodingType %q is not Base64Binary", et)
	}
	text, err := textOf(bst, "Security/BinarySecurityToken")
	if err != nil {
		return nil, err
	}
	cert, err := parseCertB64(text)
	if err != nil {
		return nil, dsigErr("Security/BinarySecurityToken", "%v", err)
	}
	return cert, nil
}

// keyIdentifierCert resolves a wsse:KeyIdentifier.
func keyIdentifierCert(ki *etree.Element, pos string, known []*x509.Certificate) (signingKey, error) {
	if et := ki.SelectAttrValue("EncodingType", encodingBase64); et != encodingBase64 {
		return signingKey{}, dsigErr(pos, "KeyIdentifier EncodingType %q is not Base64Binary", et)
	}
	text, err := textOf(ki, pos)
	if err != nil {
		return signingKey{}, err
	}
	switch vt := ki.SelectAttrValue("ValueType", ""); vt {
	case valueTypeX509v3:
		cert, err := parseCertB64(text)
		if err != nil {
			return signingKey{}, dsigErr(pos, "%v", err)
		}
		return signingKey{cert: cert, ref: RefX509KeyIdentifier}, nil
	case valueTypeSKI:
		ski, err := decodeBase64(text)
		if err != nil || len(ski) == 0 {
			return signingKey{}, dsigErr(pos, "subject key identifier is not base64")
		}
		return lookup(known, RefSubjectKeyIdentifier, pos, "subject key identifier "+hex.EncodeToString(ski), func(c *x509.Certificate) bool {
			return bytes.Equal(subjectKeyID(c), ski)
		})
	case valueTypeThumbprint:
		tp, err := decodeBase64(text)
		if err != nil || len(tp) != sha1.Size {
			return signingKey{}, dsigErr(pos, "thumbprint is not a base64 SHA-1 digest")
		}
		return lookup(known, RefThumbprint, pos, "SHA-1 thumbprint "+hex.EncodeToString(tp), func(c *x509.Certificate) bool {
			sum := sha1.Sum(c.Raw)
			return bytes.Equal(sum[:], tp)
		})
	default:
		return signingKey{}, dsigErr(pos, "KeyIdentifier ValueType %q is not X509v3, X509SubjectKeyIdentifier or ThumbprintSHA1", vt)
	}
}

// x509DataCert resolves a ds:X509Data: its X509Certificate elements (the first is the signer's,
// the others intermediates), or else one X509IssuerSerial or one X509SKI looked up among known.
func x509DataCert(xd *etree.Element, pos string, ref KeyRef, known []*x509.Certificate) (signingKey, error) {
	var certs []*x509.Certificate
	for _, c := range children(xd, NSDSig, "X509Certificate") {
		text, err := textOf(c, pos)
		if err != nil {
			return signingKey{}, err
		}
		cert, err := parseCertB64(text)
		if err != nil {
			return signingKey{}, dsigErr(pos, "%v", err)
		}
		certs = append(certs, cert)
	}
	if len(certs) > 0 {
		return signingKey{cert: certs[0], intermediates: certs[1:], ref: ref}, nil
	}
	if iss := children(xd, NSDSig, "X509IssuerSerial"); len(iss) == 1 {
		issuer, serial, err := issuerSerial(iss[0], pos+"/X509IssuerSerial")
		if err != nil {
			return signingKey{}, err
		}
		return lookup(known, ref, pos+"/X509IssuerSerial", fmt.Sprintf("issuer %q serial %s", childText(iss[0], "X509IssuerName"), serial), func(c *x509.Certificate) bool {
			return c.SerialNumber.Cmp(serial) == 0 && sameName(c.RawIssuer, issuer)
		})
	}
	if skis := children(xd, NSDSig, "X509SKI"); len(skis) == 1 {
		text, err := textOf(skis[0], pos+"/X509SKI")
		if err != nil {
			return signingKey{}, err
		}
		ski, err := decodeBase64(text)
		if err != nil || len(ski) == 0 {
			return signingKey{}, dsigErr(pos+"/X509SKI", "X509SKI is not base64")
		}
		return lookup(known, ref, pos+"/X509SKI", "subject key identifier "+hex.EncodeToString(ski), func(c *x509.Certificate) bool {
			return bytes.Equal(subjectKeyID(c), ski)
		})
	}
	return signingKey{}, dsigErr(pos, "X509Data holds no X509Certificate, nor one X509IssuerSerial or X509SKI")
}

// lookup returns the one certificate of known that match accepts. What names no known
// certificate fails the security policy: the message does not carry the certificate, and only
// the claimed signer's registered certificates are ever used in its place.
func lookup(known []*x509.Certificate, ref KeyRef, pos, what string, match func(*x509.Certificate) bool) (signingKey, error) {
	var found *x509.Certificate
	for _, c := range known {
		if c == nil || !match(c) {
			continue
		}
		if found != nil && !found.Equal(c) {
			return signingKey{}, policyErr(pos, "the KeyInfo's %s names two different certificates of the claimed signer", what)
		}
		found = c
	}
	if found == nil {
		if len(known) == 0 {
			return signingKey{}, policyErr(pos, "the KeyInfo names the signing certificate by %s instead of carrying it, and no certificate of the claimed signer is known", what)
		}
		return signingKey{}, policyErr(pos, "the KeyInfo names a certificate (%s) that is none of the %d certificates of the claimed signer", what, len(known))
	}
	return signingKey{cert: found, ref: ref}, nil
}

// subjectKeyID returns the certificate's subject key identifier: the extension's value, or the
// SHA-1 of the subjectPublicKey BIT STRING when it has none (RFC 5280 §4.2.1.2 method 1).
func subjectKeyID(c *x509.Certificate) []byte {
	if len(c.SubjectKeyId) > 0 {
		return c.SubjectKeyId
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:]
}

// childText is the trimmed text of el's first ds:local child.
func childText(el *etree.Element, local string) string {
	if cs := children(el, NSDSig, local); len(cs) > 0 {
		return strings.TrimSpace(cs[0].Text())
	}
	return ""
}

// issuerSerial reads ds:X509IssuerSerial: an RFC 4514 distinguished name and a decimal serial.
func issuerSerial(el *etree.Element, pos string) (pkix.RDNSequence, *big.Int, error) {
	nameEl, err := one(el, NSDSig, "X509IssuerName", pos)
	if err != nil {
		return nil, nil, err
	}
	serialEl, err := one(el, NSDSig, "X509SerialNumber", pos)
	if err != nil {
		return nil, nil, err
	}
	nameText, err := textOf(nameEl, pos+"/X509IssuerName")
	if err != nil {
		return nil, nil, err
	}
	serialText, err := textOf(serialEl, pos+"/X509SerialNumber")
	if err != nil {
		return nil, nil, err
	}
	issuer, err := parseDN(nameText)
	if err != nil {
		return nil, nil, dsigErr(pos+"/X509IssuerName", "X509IssuerName %q: %v", nameText, err)
	}
	serial, ok := new(big.Int).SetString(serialText, 10)
	if !ok {
		return nil, nil, dsigErr(pos+"/X509SerialNumber", "X509SerialNumber %q is not a decimal integer", serialText)
	}
	return issuer, serial, nil
}

// Attribute types of distinguished names by their RFC 4514 (and common) short names.
var dnTypes = map[string]asn1.ObjectIdentifier{
	"CN": {2, 5, 4, 3}, "SN": {2, 5, 4, 4}, "SERIALNUMBER": {2, 5, 4, 5}, "C": {2, 5, 4, 6},
	"L": {2, 5, 4, 7}, "ST": {2, 5, 4, 8}, "S": {2, 5, 4, 8}, "STREET": {2, 5, 4, 9}, "O": {2, 5, 4, 10},
	"OU": {2, 5, 4, 11}, "T": {2, 5, 4, 12}, "TITLE": {2, 5, 4, 12}, "POSTALCODE": {2, 5, 4, 17},
	"GIVENNAME": {2, 5, 4, 42}, "G": {2, 5, 4, 42}, "DNQUALIFIER": {2, 5, 4, 46},
	"DC": {0, 9, 2342, 19200300, 100, 1, 25}, "UID": {0, 9, 2342, 19200300, 100, 1, 1},
	"E": {1, 2, 840, 113549, 1, 9, 1}, "EMAILADDRESS": {1, 2, 840, 113549, 1, 9, 1},
	"ORGANIZATIONIDENTIFIER": {2, 5, 4, 97},
}

// parseDN reads an RFC 4514 (RFC 2253) distinguished name string: RDNs separated by ',' (or
// ';'), attributes of a multi-valued RDN by '+', values with backslash escapes or as #hex of
// their BER encoding. The result is in the string's order (most specific first).
func parseDN(s string) (pkix.RDNSequence, error) {
	var seq pkix.RDNSequence
	var rdn pkix.RelativeDistinguishedNameSET
	for i := 0; ; {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return nil, fmt.Errorf("attribute without '=' at offset %d", i)
		}
		typ := strings.TrimSpace(s[i : i+eq])
		i += eq + 1
		oid, err := dnType(typ)
		if err != nil {
			return nil, err
		}
		var val string
		if i < len(s) && s[i] == '#' {
			j := i + 1
			for j < len(s) && strings.IndexByte("0123456789abcdefABCDEF", s[j]) >= 0 {
				j++
			}
			der, err := hex.DecodeString(s[i+1 : j])
			if err != nil {
				return nil, fmt.Errorf("attribute %s: %v", typ, err)
			}
			var v asn1.RawValue
			if _, err := asn1.Unmarshal(der, &v); err != nil {
				return nil, fmt.Errorf("attribute %s: #hex value is not BER: %v", typ, err)
			}
			val, i = string(v.Bytes), j
		} else {
			var b strings.Builder
			for i < len(s) && s[i] != ',' && s[i] != ';' && s[i] != '+' {
				if s[i] == '\\' && i+1 < len(s) {
					if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
						c, _ := hex.DecodeString(s[i+1 : i+3])
						b.Write(c)
						i += 3
						continue
					}
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				b.WriteByte(s[i])
				i++
			}
			val = b.String()
		}
		for i < len(s) && s[i] == ' ' {
			i++
		}
		rdn = append(rdn, pkix.AttributeTypeAndValue{Type: oid, Value: val})
		if i >= len(s) {
			seq = append(seq, rdn)
			return seq, nil
		}
		if s[i] != '+' {
			seq, rdn = append(seq, rdn), nil
		}
		i++
	}
}

func isHex(c byte) bool { return strings.IndexByte("0123456789abcdefABCDEF", c) >= 0 }

func dnType(t string) (asn1.ObjectIdentifier, error) {
	if oid, ok := dnTypes[strings.ToUpper(t)]; ok {
		return oid, nil
	}
	t = strings.TrimPrefix(strings.TrimPrefix(t, "OID."), "oid.")
	var oid asn1.ObjectIdentifier
	for _, p := range strings.Split(t, ".") {
		n, ok := new(big.Int).SetString(p, 10)
		if !ok || !n.IsInt64() || len(oid) > 64 {
			return nil, fmt.Errorf("unknown attribute type %q", t)
		}
		oid = append(oid, int(n.Int64()))
	}
	if len(oid) < 2 {
		return nil, fmt.Errorf("unknown attribute type %q", t)
	}
	return oid, nil
}

// sameName reports whether the DER name raw (a certificate's RawIssuer) holds the same
// attributes as dn: the same RDNs, compared in either order (RFC 4514 writes them most specific
// first, some tools the other way), attribute values compared after trimming and folding case
// and inner runs of spaces. Since the name only chooses among the claimed signer's own
// certificates, and the signature is then checked with the chosen one's key, a loose match can
// pick no certificate a stricter one would have refused.
func sameName(raw []byte, dn pkix.RDNSequence) bool {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &seq); err != nil || len(rest) > 0 || len(seq) != len(dn) {
		return false
	}
	eq := func(a, b pkix.RelativeDistinguishedNameSET) bool {
		if len(a) != len(b) {
			return false
		}
		used := make([]bool, len(b))
	next:
		for _, x := range a {
			for j, y := range b {
				if !used[j] && x.Type.Equal(y.Type) && foldValue(x.Value) == foldValue(y.Value) {
					used[j] = true
					continue next
				}
			}
			return false
		}
		return true
	}
	forward, backward := true, true
	for i := range seq {
		forward = forward && eq(seq[i], dn[i])
		backward = backward && eq(seq[i], dn[len(dn)-1-i])
	}
	return forward || backward
}

func foldValue(v any) string {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		s = fmt.Sprint(v)
	}
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

// issuerString is the certificate's issuer as an RFC 4514 string, from its DER as it stands.
func issuerString(c *x509.Certificate) string {
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(c.RawIssuer, &seq); err != nil {
		return c.Issuer.String()
	}
	return seq.String()
}

// keyInfoElement writes the ds:KeyInfo of ref for cert under sig; for RefBinaryToken it refers
// to the BinarySecurityToken bstID.
func keyInfoElement(sig *etree.Element, ref KeyRef, cert *x509.Certificate, bstID string) error {
	str := sig.CreateElement("ds:KeyInfo").CreateElement("wsse:SecurityTokenReference")
	keyID := func(valueType string, value []byte) {
		ki := str.CreateElement("wsse:KeyIdentifier")
		ki.CreateAttr("EncodingType", encodingBase64)
		ki.CreateAttr("ValueType", valueType)
		ki.SetText(base64.StdEncoding.EncodeToString(value))
	}
	switch ref {
	case RefBinaryToken:
		r := str.CreateElement("wsse:Reference")
		r.CreateAttr("URI", "#"+bstID)
		r.CreateAttr("ValueType", valueTypeX509v3)
	case RefIssuerSerial:
		is := str.CreateElement("ds:X509Data").CreateElement("ds:X509IssuerSerial")
		is.CreateElement("ds:X509IssuerName").SetText(issuerString(cert))
		is.CreateElement("ds:X509SerialNumber").SetText(cert.SerialNumber.String())
	case RefX509KeyIdentifier:
		keyID(valueTypeX509v3, cert.Raw)
	case RefSubjectKeyIdentifier:
		ski := subjectKeyID(cert)
		if ski == nil {
			return fmt.Errorf("certificate %q: no subject key identifier", cert.Subject)
		}
		keyID(valueTypeSKI, ski)
	case RefThumbprint:
		sum := sha1.Sum(cert.Raw)
		keyID(valueTypeThumbprint, sum[:])
	default:
		return fmt.Errorf("key reference %s cannot be written", ref)
	}
	return nil
}
