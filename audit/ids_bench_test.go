package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The search by business identifier at scale (target: a codice fiscale over 10 M records in
// under 100 ms):
//
//	PORTA_AUDIT_ROWS=10000000 go test ./audit -run '^$' -bench SearchByID -benchtime 20x
//
// The store is filled straight into its tables by SQLite itself, in big transactions (see
// idsBenchStore), and kept in $TMPDIR/porta-audit-ids-bench-ROWS.db for later runs.

// idsPerValue is how many records carry each codice fiscale in the benchmark store (a worker's
// exchanges over the years: SAP, DID, candidature, their answers), and idsShare the share of
// records that carry one (riscontri, catalogue and refusals carry none).
const (
	idsPerValue = 20
	idsShare    = 7 // in 10
)

// benchCF is the codice fiscale of value v in the benchmark store.
func benchCF(v int64) string { return fmt.Sprintf("BNCCFX%010d", v) }

// idsBenchStore opens the benchmark store of rows records, filling it the first time: trace rows
// made by a recursive query (60 parties, 25 services, in and out, 30 days), the trace indexes
// dropped during the load and built after it; then 7 in 10 records get a codice fiscale, each
// value carried by idsPerValue records spread over the month, indexed in trace_id under the real
// keyed hash (computed here for every value, joined in by SQLite). The records' chain hashes and
// ids column are not computed: this store times the search, it does not verify.
func idsBenchStore(b *testing.B, rows int) (*Store, int64) {
	b.Helper()
	values := int64(rows) * idsShare / 10 / idsPerValue
	path := filepath.Join(os.TempDir(), fmt.Sprintf("porta-audit-ids-bench-%d.db", rows))
	_, statErr := os.Stat(path)
	s, err := Open(ctx, "sqlite:"+path, Options{Node: "bench", IndexKey: testIndexKey})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	var have int64
	if err := s.db.GetContext(ctx, &have, `SELECT COUNT(*) FROM trace_id`); err != nil {
		b.Fatal(err)
	}
	if statErr == nil && have > 0 {
		return s, values
	}
	t0 := time.Now()
	conn, err := s.db.Connx(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	exec := func(q string, args ...any) {
		b.Helper()
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			b.Fatalf("%.80s: %v", q, err)
		}
	}
	exec("PRAGMA synchronous = OFF")
	exec("PRAGMA cache_size = -262144")
	var indexes, names []string
	if err := conn.SelectContext(ctx, &indexes, `SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'trace' AND sql IS NOT NULL`); err != nil {
		b.Fatal(err)
	}
	if err := conn.SelectContext(ctx, &names, `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'trace' AND sql IS NOT NULL`); err != nil {
		b.Fatal(err)
	}
	for _, n := range names {
		exec("DROP INDEX " + n)
	}
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	step := (30 * 24 * time.Hour).Microseconds() / int64(rows)
	const chunk = 1000000
	for lo := 1; lo <= rows; lo += chunk {
		hi := min(lo+chunk-1, rows)
		exec("BEGIN")
		exec(`WITH RECURSIVE c(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM c WHERE i < ?)
			INSERT INTO trace (`+traceColumns+`)
			SELECT 'bench', i, 'tx' || i, CASE i % 2 WHEN 0 THEN 'out' ELSE 'in' END, 'PortaDelegata',
				printf('Provincia_ProvinciaSPCoopIT_%07d_2026-11-28_09:15', i), '', '',
				'Comune' || (i % 60), 'Ente' || ((i / 7) % 60), 'Servizio' || ((i / 3) % 25), 'Invia', 'EGOV_IT_ServizioSincrono',
				? + i * ?, ? + i * ?, CASE i % 8 WHEN 7 THEN 'error' ELSE 'sent' END, '', 200, '', '', x'', 600, x'', 'none', x'', x'', '',
				x'', x'', '', '', '', '', 0, x''
			FROM c`, lo, hi, start, step, start, step)
		exec("COMMIT")
	}
	for _, q := range indexes {
		exec(q)
	}
	b.Logf("%d trace rows and their indexes in %v", rows, time.Since(t0).Round(time.Millisecond))
	// The keyed hash of every value, then the index rows in key order (sequential inserts).
	t1 := time.Now()
	exec(`CREATE TEMP TABLE cfkey (v INTEGER PRIMARY KEY, key BLOB NOT NULL)`)
	exec("BEGIN")
	const per = 200
	var args []any
	for v := int64(0); v < values; v++ {
		args = append(args, v, IndexKeyOf(testIndexKey, BusinessID{"cf", benchCF(v)}))
		if len(args) == 2*per || v == values-1 {
			exec(`INSERT INTO cfkey (v, key) VALUES `+strings.TrimSuffix(strings.Repeat("(?, ?), ", len(args)/2), ", "), args...)
			args = args[:0]
		}
	}
	exec("COMMIT")
	// Record seq of value v: the idsPerValue records (k * stride + v) for k < idsPerValue, over
	// the 7 in 10 records that carry one, so a value's records spread over the whole month.
	exec("BEGIN")
	exec(`INSERT INTO trace_id (name, value_key, recorded, node, seq)
		SELECT 'cf', k.key, t.recorded, t.node, t.seq
		FROM trace t JOIN cfkey k ON k.v = ((t.seq / 10) * ? + t.seq % 10) % ?
		WHERE t.seq % 10 < ? ORDER BY k.key, t.recorded, t.seq`, idsShare, values, idsShare)
	exec("COMMIT")
	exec("DROP TABLE cfkey")
	exec("PRAGMA wal_checkpoint(TRUNCATE)")
	var n int64
	conn.GetContext(ctx, &n, `SELECT COUNT(*) FROM trace_id`)
	b.Logf("%d index rows for %d codici fiscali in %v", n, values, time.Since(t1).Round(time.Millisecond))
	return s, values
}

// BenchmarkSearchByID times List by codice fiscale over the benchmark store, as porta trace list
// --id cf=X and the API's ?cf= call it: a value carried by idsPerValue records, the same with the
// filters an operator adds, and a value no record carries.
func BenchmarkSearchByID(b *testing.B) {
	rows := benchRows(b)
	s, values := idsBenchStore(b, rows)
	cf := BusinessID{"cf", benchCF(values / 2)}
	for _, bc := range []struct {
		name string
		f    Filter
		want int
	}{
		{"cf", Filter{BusinessID: cf}, idsPerValue},
		{"cf+service+direction", Filter{BusinessID: cf, Service: "Servizio03", Direction: Out}, -1},
		{"cf+party+month", Filter{BusinessID: cf, Party: "Comune07", From: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}, -1},
		{"unknown cf", Filter{BusinessID: BusinessID{"cf", "XXXXXX00X00X000X"}}, 0},
	} {
		where, args := bc.f.conditions()
		q, all, err := s.idSearch(bc.f, where, args, 100)
		if err != nil {
			b.Fatal(err)
		}
		var plan []struct {
			ID, Parent, NotUsed int
			Detail              string
		}
		if err := s.db.SelectContext(ctx, &plan, "EXPLAIN QUERY PLAN "+q, all...); err == nil {
			var steps []string
			for _, p := range plan {
				steps = append(steps, p.Detail)
			}
			b.Logf("%s: %s", bc.name, strings.Join(steps, "; "))
		}
		b.Run(bc.name, func(b *testing.B) {
			var got []*Record
			var err error
			for b.Loop() {
				if got, err = s.List(ctx, bc.f); err != nil {
					b.Fatal(err)
				}
			}
			if bc.want >= 0 && len(got) != bc.want {
				b.Fatalf("found %d records, want %d", len(got), bc.want)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/search")
		})
	}
}
