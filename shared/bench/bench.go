// Package bench measures the local stack end to end (SPEC §10): in one run, the emulators' own
// push ceiling (a bare push subscription to a no-op endpoint) and Jobhooks from job event
// published to verified POST received, reported as a ratio of the two.
//
// It starts a fresh local stack of its own (emulators slow down over a long session), so
// numbers from different runs compare.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/jobhooks/jobhooks/shared/devstack"
)

// Options configure a run.
type Options struct {
	Events   int
	Webhooks int
	// Ceiling is how many messages measure the bare push ceiling; default min(Events×Webhooks, 3000).
	Ceiling int
	// Dir is the stack's state directory (wiped first).
	Dir string
	// Progress receives the progress bar and the stack's own output.
	Progress io.Writer
}

// Result is what a run measured.
type Result struct {
	Events                     int     `json:"events"`
	Webhooks                   int     `json:"webhooks"`
	Deliveries                 int     `json:"deliveries"`
	Duplicates                 int     `json:"duplicates"`
	DeliveriesPerSecond        float64 `json:"deliveries_per_second"`
	P50ms                      float64 `json:"p50_ms"`
	P90ms                      float64 `json:"p90_ms"`
	P99ms                      float64 `json:"p99_ms"`
	CeilingDeliveriesPerSecond float64 `json:"ceiling_deliveries_per_second"`
	CeilingP50ms               float64 `json:"ceiling_p50_ms"`
	Ratio                      float64 `json:"ratio"`
	CPUSecondsPer1000          float64 `json:"cpu_seconds_per_1000"`
	PeakRSSMB                  float64 `json:"peak_rss_mb"`
}

// Run starts a fresh stack, measures, and stops the stack.
func Run(ctx context.Context, opts Options) (Result, error) {
	res := Result{Events: opts.Events, Webhooks: opts.Webhooks}
	if opts.Ceiling == 0 {
		opts.Ceiling = min(opts.Events*opts.Webhooks, 3000)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan map[string]string, 1)
	stackErr := make(chan error, 1)
	go func() {
		stackErr <- devstack.Run(ctx, devstack.Options{
			Dir: opts.Dir, Fresh: true, Out: opts.Progress,
			Ready: func(env map[string]string) { ready <- env },
		})
	}()
	select {
	case <-ready:
	case err := <-stackErr:
		return res, fmt.Errorf("local stack: %w", err)
	}
	defer func() { cancel(); <-stackErr }()

	c, err := measureCeiling(ctx, opts.Ceiling, opts.Progress)
	if err != nil {
		return res, fmt.Errorf("ceiling: %w", err)
	}
	res.CeilingDeliveriesPerSecond, res.CeilingP50ms = c.perSecond, c.p50
	before, err := readProcs(opts.Dir)
	if err != nil {
		return res, err
	}
	e, err := measureEndToEnd(ctx, opts.Events, opts.Webhooks, opts.Progress)
	if err != nil {
		return res, fmt.Errorf("end to end: %w", err)
	}
	after, err := readProcs(opts.Dir)
	if err != nil {
		return res, err
	}
	res.Deliveries, res.Duplicates, res.DeliveriesPerSecond = e.deliveries, e.duplicates, e.perSecond
	res.P50ms, res.P90ms, res.P99ms = percentile(e.latencies, 50), percentile(e.latencies, 90), percentile(e.latencies, 99)
	if res.CeilingDeliveriesPerSecond > 0 {
		res.Ratio = res.DeliveriesPerSecond / res.CeilingDeliveriesPerSecond
	}
	if res.Deliveries > 0 {
		res.CPUSecondsPer1000 = (after.cpuSeconds - before.cpuSeconds) / float64(res.Deliveries) * 1000
	}
	res.PeakRSSMB = after.peakRSSMB
	return res, nil
}

// Table is the human-readable report.
func (r Result) Table() string {
	return fmt.Sprintf(`events × webhooks          %d × %d = %d deliveries (%d duplicates)
end to end                 %.0f deliveries/s
latency (published → verified POST)  p50 %.0f ms · p90 %.0f ms · p99 %.0f ms
emulator push ceiling      %.0f messages/s (p50 %.0f ms)
ratio                      %.0f %% of the ceiling
CPU of our functions       %.2f s per 1,000 deliveries
peak memory                %.0f MB (sum of the functions' peak RSS)
`, r.Events, r.Webhooks, r.Deliveries, r.Duplicates, r.DeliveriesPerSecond, r.P50ms, r.P90ms, r.P99ms,
		r.CeilingDeliveriesPerSecond, r.CeilingP50ms, r.Ratio*100, r.CPUSecondsPer1000, r.PeakRSSMB)
}

// JSON is the one-line machine-readable report.
func (r Result) JSON() string {
	b, _ := json.Marshal(r)
	return string(b)
}

func percentile(ms []float64, p int) float64 {
	if len(ms) == 0 {
		return 0
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

// progress draws a bar on w.
func progress(w io.Writer, label string, done, total int) {
	if w == nil || total == 0 {
		return
	}
	const width = 30
	n := done * width / total
	fmt.Fprintf(w, "\r%-12s [%-*s] %d/%d", label, width, string(slices.Repeat([]rune{'#'}, n)), done, total)
	if done >= total {
		fmt.Fprintln(w)
	}
}
