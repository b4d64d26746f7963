package devstack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSummary_CountsTheAttemptLinesOfEveryFunctionFromThisRunOnly: Dispatch makes first attempts
// and Deliver the retries, so both logs count; a blocked address is a failure; the lines an
// earlier run left in the same files are not this run's.
func TestSummary_CountsTheAttemptLinesOfEveryFunctionFromThisRunOnly(t *testing.T) {
	dir := t.TempDir()
	appendTo := func(name, text string) {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.WriteString(text)
	}
	write := func(name string, lines ...string) {
		for _, l := range lines {
			appendTo(name, l+"\n")
		}
	}
	attempt := func(outcome, reason string) string {
		return `{"severity":"INFO","message":"delivery attempt","outcome":"` + outcome + `","reason":"` + reason + `"}`
	}
	write("dispatch.log", attempt("delivered", "ok")) // an earlier run's
	s := newSummary(dir)

	write("dispatch.log", attempt("delivered", "ok"), attempt("delivered", "ok"), attempt("retry", "status_503"),
		attempt("failed", "blocked_address"), `{"message":"duplicate job event ignored"}`)
	write("deliver.log", attempt("delivered", "ok"), attempt("exhausted", "window_exhausted"), attempt("skipped", "not_before"))
	write("deadletter.log", `{"severity":"ERROR","message":"dead letter","kind":"job_event"}`, `{"message":"dead letter superseded: the delivery was delivered"}`)
	write("api.log", `{"message":"api request"}`)
	appendTo("api.log", `{"message":"delivery attempt","outcome":"deliv`) // a line being written
	s.read()
	if got, want := s.counts.String(), "delivered 3 · retries 1 · failed 2 · dead-lettered 1"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	write("api.log", `ered"}`) // ... and finished
	write("deliver.log", attempt("delivered", "ok"))
	s.read()
	if got := s.counts.String(); !strings.HasPrefix(got, "delivered 5 ·") {
		t.Errorf("after the rest of a line and one more: %q, want delivered 5", got)
	}
}
