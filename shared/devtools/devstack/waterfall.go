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

// Waterfall is trace id's spans in the order they started, one step per line after a heading,
// each line ending in a newline: the step's offset from the first, its duration, and what it
// was; for a POST its status, outcome, attempt and reason, e.g.
//
//	trace 672113421dabb2b819e78e182c9abf2d
//	     +0s    3ms  publish
//	    +58ms   9ms  Dispatch
//	    +60ms   4ms  POST a.example:443 200 delivered #1
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
	var b strings.Builder
	b.WriteString("trace " + id + "\n")
	for _, s := range mine {
		fmt.Fprintf(&b, "%9s %6s  %s\n", "+"+ms(s.Start.Sub(t0)), ms(s.End.Sub(s.Start)), step(s))
	}
	return b.String()
}

// step is what a span did, in words.
func step(s export.FileSpan) string {
	if !strings.HasPrefix(s.Name, "POST") {
		if s.Error != "" {
			return s.Name + " [" + s.Error + "]"
		}
		return s.Name
	}
	a := func(k string) string {
		if v, ok := s.Attributes[k]; ok {
			return fmt.Sprint(v)
		}
		return ""
	}
	out := s.Name + strings.TrimRight(fmt.Sprintf(" %s %s #%s", a(tracing.KeyStatus), a(tracing.KeyOutcome), a(tracing.KeyAttempt)), " ")
	if r := a(tracing.KeyReason); r != "" && r != "ok" {
		out += " (" + r + ")"
	}
	return out
}

// ms rounds a duration for reading: milliseconds below ten seconds, tenths of a second above.
func ms(d time.Duration) string {
	if d < 10*time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
