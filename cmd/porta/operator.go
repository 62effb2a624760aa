package main

// porta operator add|remove|list: the people who may use the management API (/api/v1 and the
// console on the admin listener, package ops), kept in the node's audit store with a PBKDF2 hash
// of their password (registry.HashPassword), never the password itself, and the SHA-256
// fingerprint of their client certificate for an HTTPS admin listener (listen.admin_client_ca).

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"porta/audit"
	"porta/gateway/node"
	"porta/ops"
	"porta/registry"
)

func init() {
	register(command{name: "operator", summary: "the operators of the management API and console: add, remove, list", subs: map[string]subcommand{
		"add":    {"add an operator (or change its role and password): viewer, operator or admin", runOperatorAdd},
		"remove": {"remove an operator; its sessions end at their next request", runOperatorRemove},
		"list":   {"list the operators and their roles", runOperatorList},
	}})
}

// openOperators opens the store of --store or of porta.yaml's store, for writing when write is
// set (the operator table only: the trail is porta serve's).
func openOperators(ctx context.Context, sf *storeFlags, write bool) (*audit.Store, error) {
	if !write {
		return sf.open(ctx)
	}
	if sf.config == "" && sf.store == "" {
		sf.config = "porta.yaml"
	}
	dsn, nodeName := sf.store, ""
	if sf.config != "" {
		cfg, err := node.LoadConfig(sf.config)
		if err != nil {
			return nil, err
		}
		nodeName = cfg.Node
		if dsn == "" {
			dsn = cfg.Store
		}
	}
	return audit.Open(ctx, dsn, audit.Options{Node: nodeName})
}

func runOperatorAdd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("operator add", "--config DIR/porta.yaml --name NAME --role viewer|operator|admin [--password-stdin] [--cert FILE]", stdout, stderr)
	fs.About = "Without --password-stdin or --cert a random password is drawn and printed once; with --cert alone the operator has no password " +
		"and logs in with that client certificate on an HTTPS admin listener (listen.admin_tls, admin_client_ca). An operator that exists gets the new role, password and certificate."
	var sf storeFlags
	sf.register(fs.FlagSet)
	name := fs.String("name", "", "the operator's `name` (the login)")
	role := fs.String("role", "viewer", "viewer (reads), operator (also requeues and runs jobs) or admin (also sees bodies and the registry)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	certFile := fs.String("cert", "", "the operator's TLS client certificate `file` (PEM; its first certificate), issued by listen.admin_client_ca")
	if code, done := fs.parse(args); done {
		return code
	}
	if *name == "" {
		return fs.fail("--name is required")
	}
	if _, err := ops.ParseRole(*role); err != nil {
		return fs.fail("--role: %v", err)
	}
	fp := ""
	if *certFile != "" {
		certs, err := registry.ReadCertFile(*certFile)
		if err != nil {
			return fs.fail("--cert: %v", err)
		}
		fp = registry.Fingerprint(certs[0])
	}
	password, hash := "", ""
	if *fromStdin {
		pw, err := passwordFromStdin(stdin)
		if err != nil {
			fmt.Fprintln(stderr, "porta operator add:", err)
			return 2
		}
		password = pw
	} else if fp == "" {
		password = rand.Text()
	}
	if password != "" {
		var err error
		if hash, err = registry.HashPassword(password, rand.Reader); err != nil {
			fmt.Fprintln(stderr, "porta operator add:", err)
			return 1
		}
	}
	ctx := context.Background()
	st, err := openOperators(ctx, &sf, true)
	if err != nil {
		fmt.Fprintln(stderr, "porta operator add:", err)
		return 1
	}
	defer st.Close()
	if err := st.PutOperator(ctx, &audit.Operator{Name: *name, Role: *role, PasswordHash: hash, CertSHA256: fp}); err != nil {
		fmt.Fprintln(stderr, "porta operator add:", err)
		return 1
	}
	fmt.Fprintf(stdout, "operator %s: role %s\n", *name, *role)
	if fp != "" {
		fmt.Fprintf(stdout, "certificate: sha256 %s\n", fp)
	}
	if !*fromStdin && password != "" {
		fmt.Fprintf(stdout, "password: %s\n", password)
	}
	return 0
}

func runOperatorRemove(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("operator remove", "--config DIR/porta.yaml --name NAME", stdout, stderr)
	var sf storeFlags
	sf.register(fs.FlagSet)
	name := fs.String("name", "", "the operator's `name`")
	if code, done := fs.parse(args); done {
		return code
	}
	if *name == "" {
		return fs.fail("--name is required")
	}
	ctx := context.Background()
	st, err := openOperators(ctx, &sf, true)
	if err != nil {
		fmt.Fprintln(stderr, "porta operator remove:", err)
		return 1
	}
	defer st.Close()
	if err := st.RemoveOperator(ctx, *name); err != nil {
		if errors.Is(err, audit.ErrNoOperator) {
			fmt.Fprintf(stderr, "porta operator remove: no operator %q (porta operator list shows them)\n", *name)
		} else {
			fmt.Fprintln(stderr, "porta operator remove:", err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "removed operator %s\n", *name)
	return 0
}

func runOperatorList(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("operator list", "--config DIR/porta.yaml [--json]", stdout, stderr)
	var sf storeFlags
	sf.register(fs.FlagSet)
	asJSON := fs.Bool("json", false, "print JSON")
	if code, done := fs.parse(args); done {
		return code
	}
	if sf.config == "" && sf.store == "" {
		sf.config = "porta.yaml"
	}
	ctx := context.Background()
	st, err := openOperators(ctx, &sf, false)
	if err != nil {
		fmt.Fprintln(stderr, "porta operator list:", err)
		return 1
	}
	defer st.Close()
	list, err := st.Operators(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "porta operator list:", err)
		return 1
	}
	if *asJSON {
		if list == nil {
			list = []*audit.Operator{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(list)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tLOGIN\tSINCE\tCHANGED")
	for _, op := range list {
		var login []string
		if op.PasswordHash != "" {
			login = append(login, "password")
		}
		if op.CertSHA256 != "" {
			login = append(login, "cert "+op.CertSHA256[:16]+"…")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", op.Name, op.Role, strings.Join(login, ", "), op.Created.Format(time.DateTime), op.Updated.Format(time.DateTime))
	}
	tw.Flush()
	return 0
}
