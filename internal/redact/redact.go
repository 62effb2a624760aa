// Package redact hides the secrets in what porta prints about a command line or a configuration:
// an application's password in --app USER:PASS, and the password of a URL (a postgres:// DSN).
// It owns only the rules of what is a secret; it does not print, log or read anything.
package redact

import (
	"net/url"
	"strings"
)

// Mask replaces a secret.
const Mask = "xxxxx"

// credentialFlags hold USER:PASS.
var credentialFlags = map[string]bool{"app": true}

// Args returns a copy of a command line with its secrets masked: the password of --app USER:PASS
// (or --app=USER:PASS) and of any URL with one (postgres://USER:PASS@HOST/DB).
func Args(args []string) []string {
	out := make([]string, len(args))
	credential := false // the previous argument is a credential flag without its value
	for i, a := range args {
		switch {
		case credential:
			out[i] = userPass(a)
			credential = false
		case strings.HasPrefix(a, "-"):
			name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			switch {
			case credentialFlags[name] && hasValue:
				out[i] = a[:len(a)-len(value)] + userPass(value)
			case credentialFlags[name]:
				out[i], credential = a, true
			case hasValue:
				out[i] = a[:len(a)-len(value)] + URL(value)
			default:
				out[i] = a
			}
		default:
			out[i] = URL(a)
		}
	}
	return out
}

// Line is Args joined by spaces, as porta prints a command line.
func Line(args []string) string { return strings.Join(Args(args), " ") }

// URL masks the password of a URL; anything else comes back as it was.
func URL(s string) string {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); !has {
		return s
	}
	u.User = url.UserPassword(u.User.Username(), Mask)
	return u.String()
}

func userPass(s string) string {
	user, _, ok := strings.Cut(s, ":")
	if !ok {
		return s
	}
	return user + ":" + Mask
}
