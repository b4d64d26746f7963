package devstack

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/shared/tracing"
	"github.com/jobhooks/jobhooks/shared/tracing/export"
)

// ReadSpans reads every span the local stack wrote under dir (.dev/traces: one JSON-lines file
// per process, see export.FileExporter). A line that does not parse is skipped: a process may be
// writing it right now.
func ReadSpans(dir string) ([]export.FileSpan, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	var out []export.FileSpan
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			var s export.FileSpan
			if json.Unmarshal(sc.Bytes(), &s) == nil && s.TraceID != "" {
				out = append(out, s)
			}
		}
		f.Close()
	}
	return out, nil
}

// TraceOf is the trace id of the latest event with id eventID, or of the latest event at all
// when eventID is empty; "" when none was traced.
func TraceOf(spans []export.FileSpan, eventID string) string {
	var best export.FileSpan
	for _, s := range spans {
		if s.Name != "Dispatch" || (eventID != "" && fmt.Sprint(s.Attributes[tracing.KeyEventID]) != eventID) {
			continue
		}
		if best.TraceID == "" || s.Start.After(best.Start) {
			best = s
		}
	}
	return best.TraceID
}

// Waterfall is one line of trace id's spans in the order they started: each step's offset from
// the first and its duration, and for a POST its status, outcome, attempt and reason, e.g.
//
//	publish +0ms (3ms) → Dispatch +58ms (9ms) → POST a.example:443 200 delivered #1 +60ms (4ms)
func Waterfall(spans []export.FileSpan, id string) string {
	var mine []export.FileSpan
	for _, s := range spans {
		if s.TraceID == id {
			mine = append(mine, s)
		}
	}
	if len(mine) == 0 {
		return ""
	}
	slices.SortFunc(mine, func(a, b export.FileSpan) int { return a.Start.Compare(b.Start) })
	t0 := mine[0].Start
	steps := make([]string, 0, len(mine))
	for _, s := range mine {
		step := s.Name
		if strings.HasPrefix(s.Name, "POST") {
			a := func(k string) string {
				if v, ok := s.Attributes[k]; ok {
					return fmt.Sprint(v)
				}
				return ""
			}
			step += strings.TrimRight(fmt.Sprintf(" %s %s #%s", a(tracing.KeyStatus), a(tracing.KeyOutcome), a(tracing.KeyAttempt)), " ")
			if r := a(tracing.KeyReason); r != "" && r != "ok" {
				step += " (" + r + ")"
			}
		} else if s.Error != "" {
			step += " [" + s.Error + "]"
		}
		steps = append(steps, fmt.Sprintf("%s +%s (%s)", step, ms(s.Start.Sub(t0)), ms(s.End.Sub(s.Start))))
	}
	return "trace " + id + ": " + strings.Join(steps, " → ")
}

// ms rounds a duration for reading: milliseconds below ten seconds, tenths of a second above.
func ms(d time.Duration) string {
	if d < 10*time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
