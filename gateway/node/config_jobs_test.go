package node

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"porta/registry"
)

func TestConfigJobs(t *testing.T) {
	dir := configDir(t)
	c, err := LoadConfig(writeConfig(t, dir, `parties: [Provincia]
jobs:
  - name: sap-nightly
    every: 24h
    at: "02:30"
    run: [sil, send, --what, sap]
  - {name: retry, every: 15m, run: [failures, retry]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Jobs) != 2 {
		t.Fatalf("jobs %+v", c.Jobs)
	}
	j := c.Jobs[0]
	if j.Name != "sap-nightly" || j.Schedule.Every != 24*time.Hour || j.Schedule.At != 150*time.Minute || j.Line != 3 ||
		!reflect.DeepEqual(j.Run, []string{"sil", "send", "--what", "sap"}) {
		t.Errorf("job %+v", j)
	}
	if j := c.Jobs[1]; j.Name != "retry" || j.Schedule.Every != 15*time.Minute || j.Schedule.At != 0 || j.Line != 7 {
		t.Errorf("job %+v", j)
	}
}

func TestConfigJobsProblems(t *testing.T) {
	// check stands for cmd/porta's: it knows sil send and its --what flag.
	check := func(run []string) error {
		if run[0] != "sil" {
			return errors.New("porta " + run[0] + " cannot run as a job")
		}
		for _, a := range run[1:] {
			if strings.HasPrefix(a, "--") && a != "--what" {
				return errors.New("flag provided but not defined: " + a)
			}
		}
		return nil
	}
	dir := configDir(t)
	_, err := LoadConfigWith(writeConfig(t, dir, `parties: [Provincia]
jobs:
  - name: sap
    every: 15m
    run: [sil, send, --what, sap]
  - name: sap
    every: 2d
    run: [sil, send, --bogus]
  - {name: "bad name!", every: 0s, at: "25:00", run: [trace, verify]}
  - {every: 1h, color: red, run: sil}
  - {name: noevery, run: [[sil]]}
  - just a string
`), check)
	var got []string
	var ps registry.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v (%T), want registry.Problems", err, err)
	}
	for _, p := range ps {
		p.File = filepath.Base(p.File)
		got = append(got, p.String())
	}
	want := []string{
		`porta.yaml:6: job "sap" is also the name of the job at line 3; each job needs its own name (it keys its lease, mark and history)`,
		`porta.yaml:7: job "sap": every 48h0m0s: want more than 0 and at most 24h`,
		`porta.yaml:8: job "sap": run "sil send --bogus": flag provided but not defined: --bogus`,
		`porta.yaml:9: jobs[2].name "bad name!" must be 1-64 letters, digits, '.', '_' or '-'`,
		`porta.yaml:9: job "bad name!": at "25:00" must be a time of day HH:MM, e.g. "02:30"`,
		`porta.yaml:9: job "bad name!": every 0s: want more than 0 and at most 24h`,
		`porta.yaml:9: job "bad name!": run "trace verify": porta trace cannot run as a job`,
		`porta.yaml:10: jobs[3]: unknown key "color"; a job has name, every, at and run`,
		`porta.yaml:10: jobs[3]: name is missing`,
		`porta.yaml:10: jobs[3]: run must be a list of porta's arguments, e.g. [sil, send, --what, sap]`,
		`porta.yaml:11: job "noevery": every is missing, e.g. every: 15m`,
		`porta.yaml:11: job "noevery": run: each argument must be a single value`,
		`porta.yaml:12: jobs[5] must be a mapping: {name: NAME, every: 15m, run: [sil, send, --what, sap]}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
