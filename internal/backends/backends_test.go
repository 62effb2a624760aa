package backends

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"porta/adapters/labour"
	"porta/envelope"
	"porta/gateway"
)

// The Ministry's SAP intake applies a message once: delivered again (Porta-Delivery-Attempt 2,
// after a crash of its gateway) it keeps no second SAP and answers the same CodiceSAP, because
// the busta's Identificatore is written with the document in one statement.
func TestKeeperAppliesARedeliveryOnce(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "backends.db"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	env, err := os.ReadFile("../../testdata/labour/pd/invioSAP.xml")
	if err != nil {
		t.Fatal(err)
	}
	sap := labour.ByWhat(labour.WhatSAP)
	be := d.Backends(time.Now)[sap.Adapter]
	h := &envelope.Header{Sender: []envelope.Party{{Name: "Provincia"}}, Service: sap.Name, Action: sap.Worker.Action,
		ID: "Provincia_ProvinciaSPCoopIT_0000007_2026-12-03_10:00"}
	var replies []string
	for attempt := 1; attempt <= 2; attempt++ {
		rep, err := be.Deliver(ctx, &gateway.Delivery{Header: h, Envelope: env, Attempt: attempt})
		if err != nil || rep.Status != 200 {
			t.Fatalf("attempt %d: %v %+v", attempt, err, rep)
		}
		replies = append(replies, string(rep.Envelope))
	}
	if replies[0] != replies[1] {
		t.Errorf("the re-delivery was answered\n%s\nnot as the first time\n%s", replies[1], replies[0])
	}
	if docs, _, _, err := d.Kept.Kept(ctx, sap.Name); err != nil || docs != 1 {
		t.Errorf("kept %d SAP documents after two deliveries of one busta (%v), want 1", docs, err)
	}
}
