// Package bench measures the local stack end to end (README, Targets the benchmarks report): in one run, the emulators' own
// push ceiling (a bare push subscription to a no-op endpoint) and Jobhooks from job event
// published to verified POST received, reported as a ratio of the two.
//
// It starts a fresh local stack of its own (emulators slow down over a long session), so
// numbers from different runs compare.
package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/shared/devstack"
	"github.com/jobhooks/jobhooks/shared/store"
)

// Options configure a run.
type Options struct {
	Events   int
	Webhooks int
	// Ceiling is how many messages measure the bare push ceiling; default min(Events×Webhooks, 3000).
	Ceiling int
	// Warmup is how many events go end to end, unmeasured, before either measurement, so both
	// are of warm emulators (their JVMs compile the hot paths in the first seconds: a cold
	// Firestore emulator answers a read in 2 ms, a warm one in 0.5 ms); default Events/5, ≥ 100.
	// Negative: none.
	Warmup int
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
	// StoreBoundDeliveriesPerSecond is the same bare push subscription to an endpoint that does
	// only the store work a first-try delivery needs (read its record, commit record and attempt),
	// on the same Firestore emulator: what any delivery service that records before it acks can
	// reach here. RatioToStoreBound compares Jobhooks with it.
	StoreBoundDeliveriesPerSecond float64 `json:"store_bound_deliveries_per_second"`
	RatioToStoreBound             float64 `json:"ratio_to_store_bound"`
	CPUSecondsPer1000             float64 `json:"cpu_seconds_per_1000"`
	// CPUByProcessPer1000 splits the CPU of the end-to-end run per process group: each function,
	// and each emulator with its Java child.
	CPUByProcessPer1000 map[string]float64 `json:"cpu_seconds_per_1000_by_process"`
	// MachineBusy is the share of the machine's CPU time (all cores) in use during the run.
	MachineBusy float64 `json:"machine_busy"`
	PeakRSSMB   float64 `json:"peak_rss_mb"`
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
			// Nothing is nacked in a benchmark: a seek would only push in-flight messages twice.
			Redeliver: -1,
			Ready:     func(env map[string]string) { ready <- env },
		})
	}()
	select {
	case <-ready:
	case err := <-stackErr:
		return res, fmt.Errorf("local stack: %w", err)
	}
	defer func() { cancel(); <-stackErr }()

	if opts.Warmup == 0 {
		opts.Warmup = max(opts.Events, 100)
	}
	if opts.Warmup > 0 {
		if _, err := measureEndToEnd(ctx, "warmup", opts.Warmup, opts.Webhooks, opts.Progress); err != nil {
			return res, fmt.Errorf("warm-up: %w", err)
		}
		if _, err := measureCeiling(ctx, "warmup", opts.Ceiling/5+1, nil, opts.Progress); err != nil {
			return res, fmt.Errorf("warm-up: %w", err)
		}
	}
	c, err := measureCeiling(ctx, "bench", opts.Ceiling, nil, opts.Progress)
	if err != nil {
		return res, fmt.Errorf("ceiling: %w", err)
	}
	res.CeilingDeliveriesPerSecond, res.CeilingP50ms = c.perSecond, c.p50
	st, err := store.Open(ctx, devstack.GoogleProject, "(default)", time.Hour)
	if err != nil {
		return res, err
	}
	defer st.Close()
	b, err := measureCeiling(ctx, "storebound", opts.Ceiling, storeWork(st), opts.Progress)
	if err != nil {
		return res, fmt.Errorf("store-bound ceiling: %w", err)
	}
	res.StoreBoundDeliveriesPerSecond = b.perSecond
	before, err := readProcs(opts.Dir)
	if err != nil {
		return res, err
	}
	busyBefore, totalBefore := machineCPU()
	e, err := measureEndToEnd(ctx, "bench", opts.Events, opts.Webhooks, opts.Progress)
	if err != nil {
		return res, fmt.Errorf("end to end: %w", err)
	}
	after, err := readProcs(opts.Dir)
	if err != nil {
		return res, err
	}
	if busy, total := machineCPU(); total > totalBefore {
		res.MachineBusy = (busy - busyBefore) / (total - totalBefore)
	}
	res.Deliveries, res.Duplicates, res.DeliveriesPerSecond = e.deliveries, e.duplicates, e.perSecond
	res.P50ms, res.P90ms, res.P99ms = percentile(e.latencies, 50), percentile(e.latencies, 90), percentile(e.latencies, 99)
	if res.CeilingDeliveriesPerSecond > 0 {
		res.Ratio = res.DeliveriesPerSecond / res.CeilingDeliveriesPerSecond
	}
	if res.StoreBoundDeliveriesPerSecond > 0 {
		res.RatioToStoreBound = res.DeliveriesPerSecond / res.StoreBoundDeliveriesPerSecond
	}
	if res.Deliveries > 0 {
		res.CPUSecondsPer1000 = (after.functions() - before.functions()) / float64(res.Deliveries) * 1000
		res.CPUByProcessPer1000 = map[string]float64{}
		for name, c := range after.cpuSeconds {
			res.CPUByProcessPer1000[name] = (c - before.cpuSeconds[name]) / float64(res.Deliveries) * 1000
		}
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
store-bound ceiling        %.0f messages/s (each push reads and commits a record); Jobhooks at %.0f %% of it
CPU of our functions       %.2f s per 1,000 deliveries
peak memory                %.0f MB (sum of the functions' peak RSS)
machine busy               %.0f %% of all cores during the run
CPU per 1,000 deliveries   %s
`, r.Events, r.Webhooks, r.Deliveries, r.Duplicates, r.DeliveriesPerSecond, r.P50ms, r.P90ms, r.P99ms,
		r.CeilingDeliveriesPerSecond, r.CeilingP50ms, r.Ratio*100,
		r.StoreBoundDeliveriesPerSecond, r.RatioToStoreBound*100, r.CPUSecondsPer1000, r.PeakRSSMB,
		r.MachineBusy*100, byProcess(r.CPUByProcessPer1000))
}

// byProcess lists CPU seconds per process group, largest first.
func byProcess(cpu map[string]float64) string {
	names := slices.Collect(maps.Keys(cpu))
	slices.SortFunc(names, func(a, b string) int { return cmp.Compare(cpu[b], cpu[a]) })
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %.2f s", n, cpu[n])
	}
	return strings.Join(parts, " · ")
}

// machineCPU reads the machine's busy and total CPU time (all cores) from /proc/stat, in ticks.
func machineCPU() (busy, total float64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseFloat(f, 64)
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total
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
