// Package soapenv owns the plain SOAP 1.1 envelope a local application exchanges with its Porta
// Delegata: Wrap puts one payload document in a header-less envelope, Payload takes the first Body
// child out of one as a document of its own. The PD client (internal/pdclient) and its test double
// (internal/pdclient/pdtest) use it on both sides of the same exchange.
//
// It must not know the eGov busta, WS-Security or HTTP: the gateway builds and reads buste.
package soapenv

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/beevik/etree"
)

// NS is the SOAP 1.1 envelope namespace.
const NS = "http://schemas.xmlsoap.org/soap/envelope/"

// Wrap puts payload, one XML document, in a SOAP 1.1 Body as it is: its XML declaration dropped,
// its bytes otherwise untouched.
func Wrap(payload []byte) ([]byte, error) {
	p := bytes.TrimSpace(payload)
	if bytes.HasPrefix(p, []byte("<?xml")) {
		end := bytes.Index(p, []byte("?>"))
		if end < 0 {
			return nil, errors.New("payload: unterminated XML declaration")
		}
		p = bytes.TrimSpace(p[end+2:])
	}
	if len(p) == 0 || p[0] != '<' || bytes.HasPrefix(p, []byte("<!DOCTYPE")) {
		return nil, errors.New("payload is not one XML element")
	}
	var b bytes.Buffer
	b.Grow(len(p) + 160)
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<soapenv:Envelope xmlns:soapenv="` + NS + `"><soapenv:Body>`)
	b.Write(p)
	b.WriteString(`</soapenv:Body></soapenv:Envelope>`)
	return b.Bytes(), nil
}

// Body parses a SOAP 1.1 envelope and returns its Body's element children (none for an empty
// Body), or an error naming what is not there.
func Body(data []byte) ([]*etree.Element, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("not XML: %w", err)
	}
	env := doc.Root()
	if env == nil || env.Tag != "Envelope" || env.NamespaceURI() != NS {
		return nil, errors.New("not a SOAP 1.1 envelope")
	}
	var body *etree.Element
	for c := range env.ChildElementsSeq() {
		if c.Tag == "Body" && c.NamespaceURI() == NS {
			body = c
		}
	}
	if body == nil {
		return nil, errors.New("no SOAP Body")
	}
	return body.ChildElements(), nil
}

// Document returns el as a document of its own, declaring every namespace el inherits from its
// ancestors that it does not declare itself, so that it reads the same outside the envelope.
func Document(el *etree.Element) ([]byte, error) {
	c := el.Copy()
	for e := el.Parent(); e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if (a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns")) && c.SelectAttr(a.FullKey()) == nil {
				c.CreateAttr(a.FullKey(), a.Value)
			}
		}
	}
	out := etree.NewDocument()
	out.SetRoot(c)
	return out.WriteToBytes()
}

// Payload returns the first Body child of a SOAP 1.1 envelope as a document of its own (see
// Document); nil for an empty Body.
func Payload(data []byte) ([]byte, error) {
	kids, err := Body(data)
	if err != nil || len(kids) == 0 {
		return nil, err
	}
	return Document(kids[0])
}
