package testenv

import (
	"runtime"
	"strings"
	"testing"
)

// outcome records how a test ended, without ending the calling test.
type outcome struct {
	testing.TB
	ended string // "fatal", "skip" or ""
	msg   string
}

func (o *outcome) Helper() {}
func (o *outcome) Fatalf(format string, a ...any) {
	o.ended, o.msg = "fatal", format
	runtime.Goexit()
}
func (o *outcome) Skipf(format string, a ...any) {
	o.ended, o.msg = "skip", format
	runtime.Goexit()
}

func run(f func(testing.TB)) *outcome {
	o := &outcome{}
	done := make(chan struct{})
	go func() { defer close(done); f(o) }()
	<-done
	return o
}

// A missing file under ../shared skips a test on a developer's machine and fails it under CI.
func TestSharedMissingStrictUnderCI(t *testing.T) {
	missing := func(tb testing.TB) { Shared(tb, "no-such-folder", "Busta.xsd") }
	t.Setenv("PORTA_REQUIRE_TOOLS", "")
	t.Setenv("CI", "")
	if o := run(missing); o.ended != "skip" {
		t.Errorf("without CI: %s, want skip", o.ended)
	}
	t.Setenv("CI", "true")
	if o := run(missing); o.ended != "fatal" || !strings.Contains(o.msg, "CI must install it") {
		t.Errorf("with CI=true: %s %q, want a failure", o.ended, o.msg)
	}
}
