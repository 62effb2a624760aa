package envelope

import (
	"context"
	"testing"
	"time"
)

func BenchmarkParse(b *testing.B) {
	data := []byte(sampleA)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	h := goldenCases()[4].h
	for b.Loop() {
		doc := NewEnvelope(h)
		if _, err := doc.WriteToBytes(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIDGeneratorMemory(b *testing.B) {
	g := NewIDGenerator("Provincia", "", func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }, &MemoryCounter{})
	ctx := context.Background()
	for b.Loop() {
		if _, err := g.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
