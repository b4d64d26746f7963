package bench

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The burst load scenario (SPEC §13): Events job events published at once to Webhooks
// endpoints that answer 204 at once, on a fresh local stack. It reports how many deliveries
// arrived (none lost), how long they took, and each function process's memory as the backlog
// drains: its peak, and what it holds at a tenth, a quarter, half, three quarters and all of
// the deliveries, which stays flat when nothing grows with the backlog.

// BurstResult is the burst scenario's numbers.
type BurstResult struct {
	Events    int     `json:"events"`
	Webhooks  int     `json:"webhooks"`
	Delivered int     `json:"delivered"`
	Lost      int     `json:"lost"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	// PeakRSSMB is each function's peak resident memory (VmHWM), in MiB.
	PeakRSSMB map[string]float64 `json:"peak_rss_mb"`
	// Samples are each function's resident memory (VmRSS) at points of the drain.
	Samples []RSSSample `json:"samples"`
}

// RSSSample is the functions' memory when Delivered deliveries had arrived.
type RSSSample struct {
	Delivered int                `json:"delivered"`
	MB        map[string]float64 `json:"mb"`
}

// burstTimeout bounds the wait for every delivery.
const burstTimeout = 50 * time.Minute

func runBurstLoad(ctx context.Context, opts Options) (*BurstResult, error) {
	opts.Events, opts.Webhooks = cmp.Or(opts.Events, 50000), cmp.Or(opts.Webhooks, 5)
	res := &BurstResult{Events: opts.Events, Webhooks: opts.Webhooks, PeakRSSMB: map[string]float64{}}
	want := opts.Events * opts.Webhooks
	err := withStack(ctx, opts, nil, func() error {
		answers := map[string]func(*endpoint, string) (int, time.Duration){}
		for i := range opts.Webhooks {
			answers["burst"+strconv.Itoa(i)] = ok(http.StatusNoContent)
		}
		r, err := openLoadRig(ctx, "loadburst", answers)
		if err != nil {
			return err
		}
		defer r.close()
		for name := range r.eps {
			if err := putWebhooks(ctx, r.hook(name, "batch.succeeded", 0, 0)); err != nil {
				return err
			}
		}
		delivered := func() int {
			n := 0
			for _, e := range r.eps {
				n += e.delivered()
			}
			return n
		}
		start := time.Now()
		if err := r.publish(ctx, "burst", "batch.succeeded", opts.Events); err != nil {
			return err
		}
		fmt.Fprintf(opts.Progress, "burst: %d events published in %v\n", opts.Events, time.Since(start).Round(time.Millisecond))
		marks := []float64{0.1, 0.25, 0.5, 0.75, 1}
		deadline, last, lastChange := start.Add(burstTimeout), 0, time.Now()
		for len(marks) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
			n := delivered()
			if n != last {
				last, lastChange = n, time.Now()
			}
			for len(marks) > 0 && float64(n) >= marks[0]*float64(want) {
				mb, err := functionRSS(opts.Dir)
				if err != nil {
					return err
				}
				res.Samples = append(res.Samples, RSSSample{Delivered: n, MB: mb})
				fmt.Fprintf(opts.Progress, "burst: %d of %d delivered after %v; memory %v\n", n, want, time.Since(start).Round(time.Second), mb)
				marks = marks[1:]
			}
			if time.Since(lastChange) > 5*time.Minute {
				break // nothing arrived for five minutes: what is missing is lost
			}
			time.Sleep(time.Second)
		}
		res.Seconds = time.Since(start).Seconds()
		res.Delivered = delivered()
		res.Lost = want - res.Delivered
		res.PerSecond = float64(res.Delivered) / res.Seconds
		res.PeakRSSMB, err = functionPeaks(opts.Dir)
		return err
	})
	return res, err
}

// functionRSS is each function process group's resident memory now (VmRSS), in MiB.
func functionRSS(dir string) (map[string]float64, error) { return functionMemory(dir, "VmRSS:") }

// functionPeaks is each function process group's peak resident memory (VmHWM), in MiB.
func functionPeaks(dir string) (map[string]float64, error) { return functionMemory(dir, "VmHWM:") }

// functionMemory sums a /proc status field over each function's process group (the emulators
// are left out), in MiB.
func functionMemory(dir, field string) (map[string]float64, error) {
	b, err := os.ReadFile(filepath.Join(dir, "pids"))
	if err != nil {
		return nil, err
	}
	groups := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && !strings.HasSuffix(f[1], "-emulator") {
			groups[f[0]] = f[1]
		}
	}
	out := map[string]float64{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		stat, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		rest := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		name, ok := groups[rest[2]]
		if !ok {
			continue
		}
		status, _ := os.ReadFile(filepath.Join(filepath.Dir(path), "status"))
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, field); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				out[name] += kb / 1024
			}
		}
	}
	return out, nil
}

func (b BurstResult) table() string {
	names := make([]string, 0, len(b.PeakRSSMB))
	for n := range b.PeakRSSMB {
		names = append(names, n)
	}
	slices.Sort(names)
	var sb strings.Builder
	fmt.Fprintf(&sb, "burst                      %d events × %d webhooks: %d delivered, lost %d, in %.0f s (%.0f deliveries/s)\n",
		b.Events, b.Webhooks, b.Delivered, b.Lost, b.Seconds, b.PerSecond)
	fmt.Fprintf(&sb, "  memory, MiB              %-10s", "delivered")
	for _, n := range names {
		fmt.Fprintf(&sb, " %10s", n)
	}
	sb.WriteString("\n")
	for _, s := range b.Samples {
		fmt.Fprintf(&sb, "                           %-10d", s.Delivered)
		for _, n := range names {
			fmt.Fprintf(&sb, " %10.1f", s.MB[n])
		}
		sb.WriteString("\n")
	}
	fmt.Fprintf(&sb, "                           %-10s", "peak")
	for _, n := range names {
		fmt.Fprintf(&sb, " %10.1f", b.PeakRSSMB[n])
	}
	sb.WriteString("\n")
	return sb.String()
}
