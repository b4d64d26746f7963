package storm

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/shared/devtools/faults"
)

// injected is what the faults of Dispatch and Deliver touched, read from their logs.
type injected struct {
	// counts are the failures by function, call, code and whether the call was made.
	counts map[string]int
	total  int
	// deliveries and events are the ids a failed commit or publish was about.
	deliveries, events map[string]bool
}

// readInjected reads every failure the functions logged (shared/devtools/faults).
func readInjected(dir string) (injected, error) {
	in := injected{counts: map[string]int{}, deliveries: map[string]bool{}, events: map[string]bool{}}
	for _, fn := range []string{"Dispatch", "Deliver"} {
		f, err := os.Open(filepath.Join(dir, "logs", strings.ToLower(fn)+".log"))
		if err != nil {
			return in, err
		}
		logged, err := faults.Read(f)
		f.Close()
		if err != nil {
			return in, fmt.Errorf("read %s's faults: %w", fn, err)
		}
		for _, x := range logged {
			how := "before the call"
			if x.AfterCall {
				how = "after it succeeded"
			}
			in.counts[fmt.Sprintf("%s %s %s %s", fn, x.Call, x.Code, how)]++
			in.total++
			for _, t := range x.Touched {
				in.touch(t)
			}
		}
	}
	return in, nil
}

// touch notes what one failed write was about: "projects/P/deliveries/ID[/attempts/N]",
// "projects/P/events/ID" or a publish's "delivery:ID".
func (in injected) touch(t string) {
	if id, ok := strings.CutPrefix(t, "delivery:"); ok {
		in.deliveries[id] = true
		return
	}
	parts := strings.Split(t, "/")
	if len(parts) >= 4 && parts[0] == "projects" {
		switch parts[2] {
		case "deliveries":
			in.deliveries[parts[3]] = true
		case "events":
			in.events[parts[3]] = true
		}
	}
}

// lines lists the counts, most first.
func (in injected) lines() []string {
	keys := make([]string, 0, len(in.counts))
	for k := range in.counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if in.counts[keys[i]] != in.counts[keys[j]] {
			return in.counts[keys[i]] > in.counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%5d  %s", in.counts[k], k)
	}
	return out
}

// duplicateCauses puts each duplicate of a pair (a 200-answered POST after its first) down to
// a crash, when the POST before it came just before a kill (the function died before recording
// it), else to a fault, when a failed commit or publish touched its delivery or its event, else
// to neither: the duplicates the storm's goal counts.
func duplicateCauses(p pair, crashes []crash, attemptTimeout time.Duration, faulted bool) (crashed, fault, other int) {
	var prev time.Time
	for _, a := range p.answers {
		if a.kind != answeredOK || !a.verified {
			continue
		}
		if !prev.IsZero() {
			switch {
			case nearCrash(prev, crashes, attemptTimeout):
				crashed++
			case faulted:
				fault++
			default:
				other++
			}
		}
		prev = a.at
	}
	return crashed, fault, other
}

// nearCrash reports whether a POST at t may have been made by a process that died before it
// recorded it: at most an attempt and a recording before a kill, or while the function was dead
// (a POST held by the trap).
func nearCrash(t time.Time, crashes []crash, attemptTimeout time.Duration) bool {
	for _, c := range crashes {
		if !t.Before(c.from.Add(-attemptTimeout-2*time.Second)) && !t.After(c.to) {
			return true
		}
	}
	return false
}
