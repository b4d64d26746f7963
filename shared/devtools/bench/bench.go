// Package bench measures the local stack end to end (shared/devtools/README.md, Targets the
// benchmarks report): in one run, the emulators' own push ceiling (a bare push subscription to a
// no-op endpoint) and Jobhooks from job event published to verified POST received, reported as a
// ratio of the two. Its paced mode (Options.Rate) publishes at a steady rate instead of in a burst
// and compares latencies with a bare one-hop push subscription paced at the same rate.
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
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/shared/devtools/devstack"
	"github.com/jobhooks/jobhooks/shared/store"
)

// Options configure a run.
type Options struct {
	// Events is how many job events the burst mode publishes; the paced mode sets it to
	// Rate × Duration.
	Events int
	// Webhooks is how many webhooks each event fans out to; default 5, in the paced mode 1.
	Webhooks int
	// Rate, when positive, selects the paced mode: job events published at Rate per second for
	// Duration, one at start + i/Rate, and a bare one-hop push subscription at the same rate.
	Rate     float64
	Duration time.Duration
	// Ceiling is how many messages measure the bare push ceiling; default min(Events×Webhooks, 3000).
	Ceiling int
	// Warmup is how many events go end to end, unmeasured, before either measurement, so both
	// are of warm emulators (their JVMs compile the hot paths in the first seconds: a cold
	// Firestore emulator answers a read in 2 ms, a warm one in 0.5 ms); default Events, ≥ 100.
	// Negative: none.
	Warmup int
	// Dir is the stack's state directory (wiped first).
	Dir string
	// Progress receives the progress bar and the stack's own output.
	Progress io.Writer
	// Load, when set, runs a load scenario instead (load.go): "throttle" or "dead".
	Load string
	// Window is the dead scenario's compressed retry window; default 4 min.
	Window time.Duration
	// redeliver is the stack's Redeliver; zero: none (nothing is nacked in the burst and paced modes).
	redeliver time.Duration
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
	// only the store work of an event delivered on its first try to one endpoint (claim the
	// event, commit the delivery record with its attempt inside),
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
	// Paced is set by the paced mode only. That mode leaves the ceiling and store-bound fields
	// and their ratios at zero: it compares with a bare hop at the same rate instead.
	Paced *Paced `json:"paced,omitempty"`
	// Load is set by the load scenarios only, which measure nothing else.
	Load *LoadResult `json:"load,omitempty"`
}

// Run starts a fresh stack, warms it up, measures, and stops the stack.
func Run(ctx context.Context, opts Options) (Result, error) {
	if opts.Load != "" {
		return runLoad(ctx, opts)
	}
	opts = opts.withDefaults()
	res := Result{Events: opts.Events, Webhooks: opts.Webhooks}
	if opts.Rate > 0 && (opts.Duration <= 0 || opts.Events < 1) {
		return res, fmt.Errorf("rate %g per second for %s publishes no event", opts.Rate, opts.Duration)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop, err := startStack(ctx, opts)
	if err != nil {
		return res, err
	}
	defer stop()
	if err := warmUp(ctx, opts); err != nil {
		return res, fmt.Errorf("warm-up: %w", err)
	}
	if opts.Rate > 0 {
		return runPaced(ctx, opts)
	}
	return runBurst(ctx, opts)
}

func (o Options) withDefaults() Options {
	if o.Rate > 0 {
		o.Events = int(math.Round(o.Rate * o.Duration.Seconds()))
		if o.Webhooks == 0 {
			o.Webhooks = 1
		}
	}
	if o.Webhooks == 0 {
		o.Webhooks = 5
	}
	if o.Ceiling == 0 {
		o.Ceiling = min(o.Events*o.Webhooks, 3000)
	}
	if o.Warmup == 0 {
		o.Warmup = max(o.Events, 100)
	}
	return o
}

// startStack starts a fresh local stack under opts.Dir and returns once it answers; stop ends it.
func startStack(ctx context.Context, opts Options) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	ready := make(chan map[string]string, 1)
	stackErr := make(chan error, 1)
	go func() {
		stackErr <- devstack.Run(ctx, devstack.Options{
			Dir: opts.Dir, Fresh: true, Out: opts.Progress,
			// Nothing is nacked in the burst and paced modes: a seek would only push in-flight
			// messages twice. The load scenarios nack, and redeliver as the local stack does.
			Redeliver: cmp.Or(opts.redeliver, -1),
			Ready:     func(env map[string]string) { ready <- env },
		})
	}()
	select {
	case <-ready:
		return func() { cancel(); <-stackErr }, nil
	case err := <-stackErr:
		cancel()
		return nil, fmt.Errorf("local stack: %w", err)
	}
}

// warmUp sends opts.Warmup events end to end and a fifth of the ceiling's messages through a bare
// hop, unmeasured, so that every measurement is of warm emulators.
func warmUp(ctx context.Context, opts Options) error {
	if opts.Warmup < 0 {
		return nil
	}
	if _, err := measureEndToEnd(ctx, "warmup", opts.Warmup, opts.Webhooks, opts.Progress); err != nil {
		return err
	}
	_, err := measureCeiling(ctx, "warmup", opts.Ceiling/5+1, nil, opts.Progress)
	return err
}

// runBurst measures the bare push ceiling, the store-bound ceiling and Jobhooks, each with all
// of its messages published at once.
func runBurst(ctx context.Context, opts Options) (Result, error) {
	res := Result{Events: opts.Events, Webhooks: opts.Webhooks}
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
	var e endToEnd
	err = res.measureCost(opts.Dir, func() (int, error) {
		e, err = measureEndToEnd(ctx, "bench", opts.Events, opts.Webhooks, opts.Progress)
		return e.deliveries, err
	})
	if err != nil {
		return res, fmt.Errorf("end to end: %w", err)
	}
	res.setEndToEnd(e)
	if res.CeilingDeliveriesPerSecond > 0 {
		res.Ratio = res.DeliveriesPerSecond / res.CeilingDeliveriesPerSecond
	}
	if res.StoreBoundDeliveriesPerSecond > 0 {
		res.RatioToStoreBound = res.DeliveriesPerSecond / res.StoreBoundDeliveriesPerSecond
	}
	return res, nil
}

func (r *Result) setEndToEnd(e endToEnd) {
	r.Deliveries, r.Duplicates, r.DeliveriesPerSecond = e.deliveries, e.duplicates, e.perSecond
	r.P50ms, r.P90ms, r.P99ms = percentile(e.latencies, 50), percentile(e.latencies, 90), percentile(e.latencies, 99)
}

// measureCost runs run, which returns how many deliveries it made, and sets the CPU, memory and
// machine-busy fields from what the stack's processes used meanwhile.
func (r *Result) measureCost(dir string, run func() (deliveries int, err error)) error {
	before, err := readProcs(dir)
	if err != nil {
		return err
	}
	busyBefore, totalBefore := machineCPU()
	n, err := run()
	if err != nil {
		return err
	}
	after, err := readProcs(dir)
	if err != nil {
		return err
	}
	if busy, total := machineCPU(); total > totalBefore {
		r.MachineBusy = (busy - busyBefore) / (total - totalBefore)
	}
	if n > 0 {
		r.CPUSecondsPer1000 = (after.functions() - before.functions()) / float64(n) * 1000
		r.CPUByProcessPer1000 = map[string]float64{}
		for name, c := range after.cpuSeconds {
			r.CPUByProcessPer1000[name] = (c - before.cpuSeconds[name]) / float64(n) * 1000
		}
	}
	r.PeakRSSMB = after.peakRSSMB
	return nil
}

// Table is the human-readable report.
func (r Result) Table() string {
	if r.Paced != nil {
		return r.pacedTable()
	}
	if r.Load != nil {
		return r.Load.table()
	}
	return fmt.Sprintf(`events × webhooks          %d × %d = %d deliveries (%d duplicates)
end to end                 %.0f deliveries/s
latency (published → verified POST)  p50 %.0f ms · p90 %.0f ms · p99 %.0f ms
emulator push ceiling      %.0f messages/s (p50 %.0f ms)
ratio                      %.0f %% of the ceiling
store-bound ceiling        %.0f messages/s (each push claims an event and commits its record); Jobhooks at %.0f %% of it
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
