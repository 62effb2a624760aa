// Package rfc3161 asks a Time Stamping Authority for a timestamp token (RFC 3161 over HTTP) and
// checks one: the token is a CMS SignedData (RFC 5652) whose content is a TSTInfo naming the
// SHA-256 message imprint that was asked for; the TSA's signature over the signed attributes is
// checked with the certificate the token carries, which must be a timestamping certificate (and
// chain to Roots when given). It owns the DER of requests, responses and tokens (encoding/asn1,
// crypto/x509) and nothing else: what is timestamped and where tokens are kept is its caller's
// (package audit keeps one per signed chain head).
package rfc3161

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"time"
)

var (
	oidSHA256     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidContentTyp = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMsgDigest  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
)

type messageImprint struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	HashedMessage []byte
}

type timeStampReq struct {
	Version        int
	MessageImprint messageImprint
	Nonce          *big.Int `asn1:"optional"`
	CertReq        bool     `asn1:"optional,default:false"`
}

type pkiStatusInfo struct {
	Status       int
	StatusString []string       `asn1:"optional"`
	FailInfo     asn1.BitString `asn1:"optional"`
}

type timeStampResp struct {
	Status pkiStatusInfo
	Token  asn1.RawValue `asn1:"optional"`
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type encapContentInfo struct {
	EContentType asn1.ObjectIdentifier
	EContent     []byte `asn1:"explicit,tag:0"`
}

type signerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type signedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo encapContentInfo
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfos      []signerInfo  `asn1:"set"`
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values []asn1.RawValue `asn1:"set"`
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint messageImprint
	SerialNumber   *big.Int
	GenTime        time.Time     `asn1:"generalized"`
	Accuracy       asn1.RawValue `asn1:"optional"`
	Ordering       bool          `asn1:"optional,default:false"`
	Nonce          *big.Int      `asn1:"optional"`
	TSA            asn1.RawValue `asn1:"optional,tag:0"`
	Extensions     asn1.RawValue `asn1:"optional,tag:1"`
}

// Client asks a TSA for timestamps.
type Client struct {
	URL  string
	HTTP *http.Client // default: a client with a 30 s timeout
	// Roots, when set, are the CAs a TSA certificate must chain to.
	Roots *x509.CertPool
}

// Stamp asks the TSA for a token over digest (a SHA-256), checks the answer (Verify, and the
// nonce it sent) and returns the token's DER.
func (c *Client) Stamp(ctx context.Context, digest []byte) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("timestamp: digest of %d bytes, want a SHA-256", len(digest))
	}
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, err
	}
	req, err := asn1.Marshal(timeStampReq{Version: 1, MessageImprint: messageImprint{pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue}, digest}, Nonce: nonce, CertReq: true})
	if err != nil {
		return nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(req))
	if err != nil {
		return nil, fmt.Errorf("timestamp: %w", err)
	}
	hr.Header.Set("Content-Type", "application/timestamp-query")
	resp, err := hc.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("timestamp from %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("timestamp from %s: %w", c.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("timestamp from %s: HTTP %s", c.URL, resp.Status)
	}
	token, err := ParseResponse(body)
	if err != nil {
		return nil, fmt.Errorf("timestamp from %s: %w", c.URL, err)
	}
	info, err := Verify(token, digest, c.Roots)
	if err != nil {
		return nil, fmt.Errorf("timestamp from %s: %w", c.URL, err)
	}
	if info.Nonce == nil || info.Nonce.Cmp(nonce) != 0 {
		return nil, fmt.Errorf("timestamp from %s: the token does not carry the request's nonce", c.URL)
	}
	return token, nil
}

// ParseResponse reads a TimeStampResp and returns its token, or the TSA's refusal as an error.
func ParseResponse(der []byte) ([]byte, error) {
	var r timeStampResp
	if rest, err := asn1.Unmarshal(der, &r); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("not a TimeStampResp: %v", err)
	}
	if r.Status.Status != 0 && r.Status.Status != 1 { // granted, grantedWithMods
		return nil, fmt.Errorf("refused by the TSA: status %d %s", r.Status.Status, strings.Join(r.Status.StatusString, "; "))
	}
	if len(r.Token.FullBytes) == 0 {
		return nil, errors.New("the TSA granted no token")
	}
	return r.Token.FullBytes, nil
}

// Info is what a checked token says.
type Info struct {
	Time   time.Time
	Serial *big.Int
	Nonce  *big.Int
	Cert   *x509.Certificate // the TSA's
}

// Verify checks token (a TimeStampToken's DER) for digest, a SHA-256: the TSTInfo's message
// imprint, the signed attributes' content type and message digest, the TSA's signature with the
// certificate the token carries (a timestamping certificate, chaining to roots when not nil).
func Verify(token, digest []byte, roots *x509.CertPool) (*Info, error) {
	var ci contentInfo
	if rest, err := asn1.Unmarshal(token, &ci); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("token: not a ContentInfo: %v", err)
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("token: content type %v, want SignedData", ci.ContentType)
	}
	var sd signedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return nil, fmt.Errorf("token: SignedData: %w", err)
	}
	if !sd.EncapContentInfo.EContentType.Equal(oidTSTInfo) {
		return nil, fmt.Errorf("token: content %v, want TSTInfo", sd.EncapContentInfo.EContentType)
	}
	var tst tstInfo
	if _, err := asn1.Unmarshal(sd.EncapContentInfo.EContent, &tst); err != nil {
		return nil, fmt.Errorf("token: TSTInfo: %w", err)
	}
	if !tst.MessageImprint.HashAlgorithm.Algorithm.Equal(oidSHA256) || !bytes.Equal(tst.MessageImprint.HashedMessage, digest) {
		return nil, errors.New("token: its message imprint is not the SHA-256 asked for")
	}
	if len(sd.SignerInfos) != 1 {
		return nil, fmt.Errorf("token: %d signers, want 1", len(sd.SignerInfos))
	}
	si := sd.SignerInfos[0]
	certs, err := x509.ParseCertificates(sd.Certificates.Bytes)
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("token: no TSA certificate (was certReq honoured?): %v", err)
	}
	var ias issuerAndSerial
	if _, err := asn1.Unmarshal(si.SID.FullBytes, &ias); err != nil {
		return nil, fmt.Errorf("token: signer identifier: %w", err)
	}
	var cert *x509.Certificate
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) && c.SerialNumber.Cmp(ias.Serial) == 0 {
			cert = c
		}
	}
	if cert == nil {
		return nil, errors.New("token: the signer's certificate is not in the token")
	}
	h, ok := hashes[si.DigestAlgorithm.Algorithm.String()]
	if !ok {
		return nil, fmt.Errorf("token: digest algorithm %v", si.DigestAlgorithm.Algorithm)
	}
	if len(si.SignedAttrs.FullBytes) == 0 {
		return nil, errors.New("token: no signed attributes")
	}
	var attrs []attribute
	if _, err := asn1.UnmarshalWithParams(si.SignedAttrs.FullBytes, &attrs, "set,tag:0"); err != nil {
		return nil, fmt.Errorf("token: signed attributes: %w", err)
	}
	sum := h.New()
	sum.Write(sd.EncapContentInfo.EContent)
	var typeOK, digestOK bool
	for _, a := range attrs {
		if len(a.Values) != 1 {
			continue
		}
		switch {
		case a.Type.Equal(oidContentTyp):
			var oid asn1.ObjectIdentifier
			_, err := asn1.Unmarshal(a.Values[0].FullBytes, &oid)
			typeOK = err == nil && oid.Equal(oidTSTInfo)
		case a.Type.Equal(oidMsgDigest):
			var md []byte
			_, err := asn1.Unmarshal(a.Values[0].FullBytes, &md)
			digestOK = err == nil && bytes.Equal(md, sum.Sum(nil))
		}
	}
	if !typeOK || !digestOK {
		return nil, errors.New("token: the signed attributes do not name the TSTInfo (content type, message digest)")
	}
	// The signature covers the attributes' DER as a SET (RFC 5652 5.4), not as [0].
	signed := bytes.Clone(si.SignedAttrs.FullBytes)
	signed[0] = 0x31
	alg, err := sigAlg(cert, h)
	if err != nil {
		return nil, err
	}
	if err := cert.CheckSignature(alg, signed, si.Signature); err != nil {
		return nil, fmt.Errorf("token: the TSA's signature (%s): %w", cert.Subject, err)
	}
	if !hasTimeStamping(cert) {
		return nil, fmt.Errorf("token: certificate %s is not for timestamping (extended key usage)", cert.Subject)
	}
	if roots != nil {
		inter := x509.NewCertPool()
		for _, c := range certs {
			inter.AddCert(c)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: tst.GenTime,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}); err != nil {
			return nil, fmt.Errorf("token: TSA certificate %s: %w", cert.Subject, err)
		}
	}
	return &Info{Time: tst.GenTime, Serial: tst.SerialNumber, Nonce: tst.Nonce, Cert: cert}, nil
}

var hashes = map[string]crypto.Hash{
	oidSHA256.String(): crypto.SHA256,
	oidSHA384.String(): crypto.SHA384,
	oidSHA512.String(): crypto.SHA512,
}

func sigAlg(cert *x509.Certificate, h crypto.Hash) (x509.SignatureAlgorithm, error) {
	algs := map[x509.PublicKeyAlgorithm]map[crypto.Hash]x509.SignatureAlgorithm{
		x509.RSA:   {crypto.SHA256: x509.SHA256WithRSA, crypto.SHA384: x509.SHA384WithRSA, crypto.SHA512: x509.SHA512WithRSA},
		x509.ECDSA: {crypto.SHA256: x509.ECDSAWithSHA256, crypto.SHA384: x509.ECDSAWithSHA384, crypto.SHA512: x509.ECDSAWithSHA512},
	}
	if a, ok := algs[cert.PublicKeyAlgorithm][h]; ok {
		return a, nil
	}
	return 0, fmt.Errorf("token: TSA key %v with %v is not supported", cert.PublicKeyAlgorithm, h)
}

func hasTimeStamping(c *x509.Certificate) bool {
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageTimeStamping {
			return true
		}
	}
	return false
}
