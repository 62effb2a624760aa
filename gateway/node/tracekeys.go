package node

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"porta/audit/seal"
	"porta/registry"
)

// DefaultTraceKeys is the trace keys' directory, beside porta.yaml, unless trace.keys names one.
const DefaultTraceKeys = "trace-keys"

// LoadTraceKeys loads the trace keys of trace.keys; nil (and no error) when the directory does
// not exist. A key file others may read is an error naming the fix.
func (c *Config) LoadTraceKeys() (*seal.Keyring, error) {
	if _, err := os.Stat(c.TraceKeys); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	k, err := seal.Load(c.TraceKeys)
	if err != nil {
		return nil, fmt.Errorf("%s: trace.keys: %w", c.File, err)
	}
	return k, nil
}

// needsKeys names what keeps bodies encrypted (the gateway's default or a service of reg), or
// returns "" when nothing does.
func (c *Config) needsKeys(reg *registry.Registry) string {
	if c.TraceBody == "encrypted" {
		return "trace.body encrypted"
	}
	for _, s := range reg.Services() {
		if s.Trace.Body == "encrypted" {
			return fmt.Sprintf("service %s of %s (%s) keeps bodies encrypted", s.Name, s.Provider, s.Trace.Pos)
		}
	}
	return ""
}

// checkKeys fails when reg or the config keeps bodies encrypted and the trace keys are missing.
func (c *Config) checkKeys(reg *registry.Registry) error {
	why := c.needsKeys(reg)
	if why == "" {
		return nil
	}
	if _, err := os.Stat(c.TraceKeys); err != nil {
		return fmt.Errorf("%s: %s, but there are no trace keys in %s: create one with porta trace key rotate --config %s", c.File, why, c.TraceKeys, c.File)
	}
	return nil
}
