package audit

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// A record's JSON carries its hashes in lower-case hex, as every hash porta prints, and reads back.
func TestRecordJSONHashesHex(t *testing.T) {
	r := Record{ID: "P_P_0000001_2026-11-28_09:30", PayloadHash: []byte{0xab, 0x01}, RawHash: []byte{0xcd}, PrevHash: []byte{0}, Hash: []byte{0xff, 0x10}, Raw: []byte("<x/>")}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"payload_sha256":"ab01"`, `"raw_sha256":"cd"`, `"prev_hash":"00"`, `"hash":"ff10"`, `"id":"P_P_0000001_2026-11-28_09:30"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
	var back Record
	if err := json.Unmarshal(b, &back); err != nil || !bytes.Equal(back.Hash, r.Hash) || !bytes.Equal(back.PayloadHash, r.PayloadHash) || back.ID != r.ID || string(back.Raw) != "<x/>" {
		t.Errorf("read back %+v, %v", back, err)
	}
}

// BodyContent is the payload between the Body's tags; StripBody keeps everything else.
func TestBodyContent(t *testing.T) {
	env := []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h/></s:Header><s:Body u:Id="b" xmlns:u="urn:u"><p:x xmlns:p="urn:p">1</p:x></s:Body></s:Envelope>`)
	body, err := BodyContent(env)
	if err != nil || string(body) != `<p:x xmlns:p="urn:p">1</p:x>` {
		t.Errorf("BodyContent = %q, %v", body, err)
	}
	stripped, err := StripBody(env)
	if err != nil || string(stripped) != `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h/></s:Header><s:Body u:Id="b" xmlns:u="urn:u"></s:Body></s:Envelope>` {
		t.Errorf("StripBody = %q, %v", stripped, err)
	}
	if _, err := BodyContent([]byte(`<s:Envelope xmlns:s="x"><s:Header/></s:Envelope>`)); err == nil {
		t.Error("no Body accepted")
	}
}
