package pgtest

import (
	"database/sql"
	"os"
	"testing"
)

var shared Shared

func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }

func TestStartAndShared(t *testing.T) {
	for name, dsn := range map[string]string{"own": Start(t), "shared1": shared.DB(t), "shared2": shared.DB(t)} {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		var v string
		if err := db.QueryRow("SELECT current_database() || ' ' || version()").Scan(&v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %s", name, v)
		if _, err := db.Exec("CREATE TABLE t (x int)"); err != nil {
			t.Errorf("%s: a fresh database should take a table: %v", name, err)
		}
		db.Close()
	}
}
