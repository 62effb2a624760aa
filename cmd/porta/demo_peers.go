package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"porta/gateway"
)

// peer is one running gateway of the labour network with its backends' data.
type peer struct {
	Name   string
	Dir    string
	Data   *backendData
	Opened *gateway.Opened
	PD     string // http://host:port of the Porta Delegata
	done   chan error
}

// startPeer opens the gateway of party under dir (written by buildNetwork) with its built-in
// backends and serves it until ctx ends; it returns once the PD and PA listen.
func startPeer(ctx context.Context, dir, party string, log *slog.Logger, now func() time.Time) (*peer, error) {
	pdir := filepath.Join(dir, party)
	data, err := openBackendData(ctx, filepath.Join(pdir, "backends.db"), now)
	if err != nil {
		return nil, err
	}
	o, err := gateway.Open(ctx, filepath.Join(pdir, "porta.yaml"), gateway.OpenOptions{Backends: data.Backends(now), Logger: log})
	if err != nil {
		data.Close()
		return nil, fmt.Errorf("%s: %w", party, err)
	}
	p := &peer{Name: party, Dir: pdir, Data: data, Opened: o, done: make(chan error, 1)}
	var mu sync.Mutex
	up := map[string]string{}
	ready := make(chan struct{})
	l := o.Listeners
	l.Listening = func(name, addr string) {
		mu.Lock()
		defer mu.Unlock()
		up[name] = addr
		if up["pd"] != "" && up["pa"] != "" && len(up) == 3 {
			close(ready)
		}
	}
	go func() { p.done <- o.Gateway.Serve(ctx, l) }()
	select {
	case <-ready:
		p.PD = "http://" + up["pd"]
		return p, nil
	case err := <-p.done:
		p.close()
		return nil, fmt.Errorf("%s: serve: %v", party, err)
	case <-time.After(20 * time.Second):
		return nil, fmt.Errorf("%s: listeners not up after 20s", party)
	}
}

// stop waits for Serve to return (ctx must be cancelled first) and closes everything.
func (p *peer) stop() error {
	err := <-p.done
	return errors.Join(err, p.close())
}

func (p *peer) close() error {
	return errors.Join(p.Opened.Close(), p.Data.Close())
}

// pdClient calls a Porta Delegata as the network's local application.
type pdClient struct {
	HTTP     *http.Client
	Password string
}

// pdAnswer is the Porta Delegata's answer: the payload of a reply (sync) or the message ID of
// a queued request.
type pdAnswer struct {
	MessageID string
	Payload   []byte
}

// call POSTs payload wrapped in a SOAP 1.1 envelope to the PD of from, for provider's
// service/action. A SOAP Fault comes back as an error holding its faultstring.
func (c *pdClient) call(ctx context.Context, from *peer, provider, service, action string, payload []byte, relatesTo string) (*pdAnswer, error) {
	var env bytes.Buffer
	env.WriteString(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>`)
	env.Write(stripXMLDecl(payload))
	env.WriteString(`</soap:Body></soap:Envelope>`)
	url := fmt.Sprintf("%s/pd/%s/%s/%s/%s", from.PD, from.Name, provider, service, action)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, &env)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.SetBasicAuth(appUser, c.Password)
	if relatesTo != "" {
		req.Header.Set(gateway.HeaderRelatesTo, relatesTo)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	a := &pdAnswer{MessageID: resp.Header.Get(gateway.HeaderMessageID)}
	if len(bytes.TrimSpace(body)) == 0 {
		if resp.StatusCode != http.StatusOK {
			return a, fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
		}
		return a, nil
	}
	p, err := soapPayload(body)
	if err != nil {
		return a, fmt.Errorf("%s: HTTP %d: %w", url, resp.StatusCode, err)
	}
	if root, _ := rootName(p); root == "Fault" {
		return a, fmt.Errorf("fault: %s", faultString(p))
	}
	if resp.StatusCode != http.StatusOK {
		return a, fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	a.Payload = p
	return a, nil
}

func stripXMLDecl(p []byte) []byte {
	p = bytes.TrimSpace(p)
	if bytes.HasPrefix(p, []byte("<?xml")) {
		if i := bytes.Index(p, []byte("?>")); i >= 0 {
			return bytes.TrimSpace(p[i+2:])
		}
	}
	return p
}

// soapPayload returns the child of soap:Body as a standalone document, with the namespace
// declarations in scope copied onto it (a Fault included), or nil for an empty Body.
func soapPayload(env []byte) ([]byte, error) {
	dec := xml.NewDecoder(bytes.NewReader(env))
	var scope []xml.Attr
	depth, bodyDepth := 0, -1
	for {
		start := dec.InputOffset()
		t, err := dec.RawToken()
		if err == io.EOF {
			return nil, errors.New("no soap:Body")
		}
		if err != nil {
			return nil, err
		}
		switch v := t.(type) {
		case xml.StartElement:
			depth++
			if bodyDepth >= 0 && depth == bodyDepth+1 {
				return extractElement(env, start, dec, depth, scope)
			}
			for _, a := range v.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					scope = append(scope, a)
				}
			}
			if v.Name.Local == "Body" && bodyDepth < 0 {
				bodyDepth = depth
			}
		case xml.EndElement:
			if depth == bodyDepth {
				return nil, nil
			}
			depth--
		}
	}
}

// extractElement copies the element starting at offset start, re-declaring the namespaces of
// scope that the element does not declare itself.
func extractElement(env []byte, start int64, dec *xml.Decoder, depth int, scope []xml.Attr) ([]byte, error) {
	d := depth
	for d >= depth {
		t, err := dec.RawToken()
		if err != nil {
			return nil, err
		}
		switch t.(type) {
		case xml.StartElement:
			d++
		case xml.EndElement:
			d--
		}
	}
	el := env[start:dec.InputOffset()]
	// insert the inherited declarations after the start tag's name
	i := bytes.IndexAny(el, " \t\r\n/>")
	var decl strings.Builder
	for _, a := range scope {
		name := "xmlns"
		if a.Name.Space == "xmlns" {
			name = "xmlns:" + a.Name.Local
		}
		if bytes.Contains(el[:bytes.IndexByte(el, '>')], []byte(name+"=")) {
			continue
		}
		fmt.Fprintf(&decl, " %s=%q", name, a.Value)
	}
	out := make([]byte, 0, len(el)+decl.Len())
	out = append(out, el[:i]...)
	out = append(out, decl.String()...)
	out = append(out, el[i:]...)
	return out, nil
}

func faultString(p []byte) string {
	var f struct {
		Code   string `xml:"faultcode"`
		String string `xml:"faultstring"`
	}
	if xml.Unmarshal(p, &f) != nil {
		return string(p)
	}
	return f.Code + ": " + f.String
}

// readPassword reads the application password buildNetwork's caller kept in dir.
func readPassword(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "app-password"))
	return strings.TrimSpace(string(b)), err
}
