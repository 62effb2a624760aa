package ops

import (
	"encoding/csv"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"porta/audit"
)

// Statistics are computed from the trail's transactions (audit.Store.Spans): a transaction is
// the records of one exchange at this node (a PD's request and reply, a busta queued and then
// sent and acknowledged, a PA's received busta and its answer), counted in the bucket of its
// first record. Its latency is the time from its first record to its last: request to reply, or
// queued to acknowledged; a transaction of one record (a refusal, a one-way busta not yet
// acknowledged) has none and is left out of the percentiles (latency_samples counts the others).
// An error is a transaction with a record of outcome error or expired; by=outcome groups by
// error, expired or ok. by=party groups by the peer: the party the node sent to or heard from.

// StatsRow is one (bucket, key) of the statistics.
type StatsRow struct {
	Bucket         time.Time `json:"bucket"`
	Key            string    `json:"key"`
	Count          int       `json:"count"`
	Errors         int       `json:"errors"`
	ErrorRate      float64   `json:"error_rate"`
	LatencySamples int       `json:"latency_samples"`
	P50            float64   `json:"p50_ms"`
	P95            float64   `json:"p95_ms"`
	P99            float64   `json:"p99_ms"`

	latencies []float64
}

// Stats is the answer of GET /api/v1/stats.
type Stats struct {
	By       string     `json:"by"`
	Interval string     `json:"interval"`
	From     time.Time  `json:"from"`
	To       time.Time  `json:"to"`
	Rows     []StatsRow `json:"rows"`
}

// maxStatsTransactions bounds what one request sums (the latencies are held to sort them).
const maxStatsTransactions = 5_000_000

func (a *API) stats(w http.ResponseWriter, r *http.Request, _ *caller) error {
	q := r.URL.Query()
	st := Stats{By: q.Get("by"), Interval: q.Get("interval"), Rows: []StatsRow{}}
	if st.By == "" {
		st.By = "service"
	}
	if st.Interval == "" {
		st.Interval = "day"
	}
	var key func(audit.Span) string
	switch st.By {
	case "service":
		key = func(s audit.Span) string { return s.Service }
	case "party":
		key = func(s audit.Span) string { return s.Peer }
	case "outcome":
		key = func(s audit.Span) string { return or(s.Worst, "ok") }
	default:
		return badRequest("by %q: want service, party or outcome", st.By)
	}
	var bucket func(time.Time) time.Time
	switch st.Interval {
	case "hour":
		bucket = func(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }
	case "day":
		bucket = func(t time.Time) time.Time {
			y, m, d := t.UTC().Date()
			return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		}
	case "month":
		bucket = func(t time.Time) time.Time {
			y, m, _ := t.UTC().Date()
			return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		}
	default:
		return badRequest("interval %q: want hour, day or month", st.Interval)
	}
	var err error
	if st.From, err = parseTime(q, "from"); err != nil {
		return err
	}
	if st.To, err = parseTime(q, "to"); err != nil {
		return err
	}
	if st.To.IsZero() {
		st.To = a.opt.Now().UTC()
	}
	if st.From.IsZero() {
		st.From = st.To.AddDate(0, 0, -30)
	}
	if !st.From.Before(st.To) {
		return badRequest("from %s is not before to %s", st.From.Format(time.RFC3339), st.To.Format(time.RFC3339))
	}
	type rowKey struct {
		b time.Time
		k string
	}
	rows := map[rowKey]*StatsRow{}
	n := 0
	err = a.opt.Store.Spans(r.Context(), st.From, st.To, FunctionOperator, func(s audit.Span) error {
		if n++; n > maxStatsTransactions {
			return badRequest("more than %d transactions between %s and %s: ask for a shorter range", maxStatsTransactions, st.From.Format(time.RFC3339), st.To.Format(time.RFC3339))
		}
		k := rowKey{bucket(s.First), key(s)}
		row := rows[k]
		if row == nil {
			row = &StatsRow{Bucket: k.b, Key: k.k}
			rows[k] = row
		}
		row.Count++
		if s.Worst != "" {
			row.Errors++
		}
		if s.Records > 1 {
			row.latencies = append(row.latencies, ms(s.Last.Sub(s.First)))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, row := range rows {
		row.ErrorRate = float64(row.Errors) / float64(row.Count)
		slices.Sort(row.latencies)
		row.LatencySamples = len(row.latencies)
		row.P50, row.P95, row.P99 = percentile(row.latencies, 50), percentile(row.latencies, 95), percentile(row.latencies, 99)
		st.Rows = append(st.Rows, *row)
	}
	slices.SortFunc(st.Rows, func(x, y StatsRow) int {
		if c := x.Bucket.Compare(y.Bucket); c != 0 {
			return c
		}
		return strings.Compare(x.Key, y.Key)
	})
	if wantsCSV(r) {
		return writeStatsCSV(w, st)
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// percentile is the nearest-rank percentile p of sorted values (0 for none).
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// wantsCSV reports whether the client asked for text/csv (Accept) before JSON.
func wantsCSV(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		switch strings.TrimSpace(mt) {
		case "text/csv":
			return true
		case "application/json":
			return false
		}
	}
	return false
}

// statsCSVHeader is the CSV's first line: the JSON rows' names.
var statsCSVHeader = []string{"bucket", "key", "count", "errors", "error_rate", "latency_samples", "p50_ms", "p95_ms", "p99_ms"}

func writeStatsCSV(w http.ResponseWriter, st Stats) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="porta-stats-%s-%s.csv"`, st.By, st.Interval))
	cw := csv.NewWriter(w)
	_ = cw.Write(statsCSVHeader)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, r := range st.Rows {
		_ = cw.Write([]string{r.Bucket.Format(time.RFC3339), r.Key, strconv.Itoa(r.Count), strconv.Itoa(r.Errors), f(r.ErrorRate),
			strconv.Itoa(r.LatencySamples), f(r.P50), f(r.P95), f(r.P99)})
	}
	cw.Flush()
	return cw.Error()
}
