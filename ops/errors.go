package ops

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Error is an API error: its status, a stable word for programs, and a message for people that
// says what to do.
type Error struct {
	Status  int    `json:"status"`
	Word    string `json:"error"`
	Message string `json:"message"`
	// RetryAfter, when more than 0, is sent as the Retry-After header (seconds).
	RetryAfter int `json:"-"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Word, e.Message) }

func errorf(status int, word, format string, a ...any) *Error {
	return &Error{Status: status, Word: word, Message: fmt.Sprintf(format, a...)}
}

func badRequest(format string, a ...any) *Error {
	return errorf(http.StatusBadRequest, "bad_request", format, a...)
}

func notFound(format string, a ...any) *Error {
	return errorf(http.StatusNotFound, "not_found", format, a...)
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // envelopes stay readable XML; the type is JSON and never sniffed
	_ = enc.Encode(v)
}

// writeError answers err: an *Error as it is, anything else as a 500 whose message names the
// failure (the store's errors say what failed and where, and hold no secrets).
func writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = errorf(http.StatusInternalServerError, "internal", "%v (see the node's log; porta serve --log-level debug tells more)", err)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(e.RetryAfter))
	}
	writeJSON(w, e.Status, e)
}
