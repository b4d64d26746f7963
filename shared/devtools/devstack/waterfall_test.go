package devstack

import (
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/tracing/export"
)

// TestWaterfall_IsOneLinePerStepInTheOrderTheyStarted: a heading, then each step on a line of
// its own, aligned, and the output ends with a newline (a shell prompt after it starts on a line
// of its own).
func TestWaterfall_IsOneLinePerStepInTheOrderTheyStarted(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	post := func(id, parent string, start int, status, attempt float64, outcome, reason string) export.FileSpan {
		return export.FileSpan{TraceID: "t1", SpanID: id, ParentID: parent, Name: "POST hooks.example:443", Start: at(start), End: at(start + 4),
			Attributes: map[string]any{"http.response.status_code": status, "jobhooks.attempt": attempt, "jobhooks.outcome": outcome, "jobhooks.reason": reason}}
	}
	spans := []export.FileSpan{
		post("p2", "d2", 10_070, 200, 2, "delivered", "ok"),
		{TraceID: "t1", SpanID: "d1", ParentID: "pub", Name: "Dispatch", Start: at(58), End: at(70), Attributes: map[string]any{"jobhooks.event_id": "job-42"}},
		{TraceID: "t1", SpanID: "pub", Name: "publish", Start: at(0), End: at(3)},
		post("p1", "d1", 60, 503, 1, "retry", "status_503"),
		{TraceID: "t1", SpanID: "d2", ParentID: "d1", Name: "Deliver", Start: at(10_060), End: at(10_080)},
		{TraceID: "t2", SpanID: "x", Name: "Dispatch", Start: at(20_000), End: at(20_001), Attributes: map[string]any{"jobhooks.event_id": "job-43"}},
	}
	if got := TraceOf(spans, "job-42"); got != "t1" {
		t.Errorf("TraceOf(job-42) = %q, want t1", got)
	}
	if got := TraceOf(spans, ""); got != "t2" {
		t.Errorf("TraceOf(latest) = %q, want t2", got)
	}
	want := `trace t1
      +0s    3ms  publish
    +58ms   12ms  Dispatch
    +60ms    4ms  POST hooks.example:443 503 retry #1 (status_503)
   +10.1s   20ms  Deliver
   +10.1s    4ms  POST hooks.example:443 200 delivered #2
`
	if got := Waterfall(spans, "t1"); got != want {
		t.Errorf("waterfall\n got %s\nwant %s", got, want)
	}
}
