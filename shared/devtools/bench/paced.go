package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
)

// Paced is what the paced mode adds to a Result (shared/devtools/README.md, Targets the benchmarks
// report): job events published at a steady rate, and beside them a bare one-hop push subscription
// to a no-op endpoint paced at the same rate on the same warm stack. Result's P50ms, P90ms and
// P99ms are Jobhooks' latencies at that rate (job event published → verified POST received).
type Paced struct {
	RatePerSecond   float64 `json:"rate_per_second"`
	DurationSeconds float64 `json:"duration_seconds"`
	// PublishLagMaxMs is how late the latest Jobhooks publish started after its scheduled time:
	// near zero means the rate held (the latencies are measured from the actual publish time).
	PublishLagMaxMs float64 `json:"publish_lag_max_ms"`
	BareMessages    int     `json:"bare_messages"`
	BareP50ms       float64 `json:"bare_p50_ms"`
	BareP90ms       float64 `json:"bare_p90_ms"`
	BareP99ms       float64 `json:"bare_p99_ms"`
	// BarePublishLagMaxMs is PublishLagMaxMs of the bare hop.
	BarePublishLagMaxMs float64 `json:"bare_publish_lag_max_ms"`
	// BareMachineBusy is Result.MachineBusy while the bare hop ran: the two runs follow each
	// other, so their ratio means most when the machine was as busy in both.
	BareMachineBusy float64 `json:"bare_machine_busy"`
	// P50RatioToBare is Jobhooks' p50 over the bare hop's p50; P99RatioToBare the same at p99.
	// The target is ≤ 1.5 for both.
	P50RatioToBare float64 `json:"p50_ratio_to_bare"`
	P99RatioToBare float64 `json:"p99_ratio_to_bare"`
}

// runPaced measures the bare hop and then Jobhooks, each publishing opts.Events messages at
// opts.Rate per second, on the stack Run has started and warmed up.
func runPaced(ctx context.Context, opts Options) (Result, error) {
	res := Result{Events: opts.Events, Webhooks: opts.Webhooks,
		Paced: &Paced{RatePerSecond: opts.Rate, DurationSeconds: opts.Duration.Seconds(), BareMessages: opts.Events}}
	p := res.Paced
	busyBefore, totalBefore := machineCPU()
	bare, err := measureBarePaced(ctx, "paced", opts.Events, opts.Rate, opts.Progress)
	if err != nil {
		return res, fmt.Errorf("bare hop: %w", err)
	}
	if busy, total := machineCPU(); total > totalBefore {
		p.BareMachineBusy = (busy - busyBefore) / (total - totalBefore)
	}
	p.BareP50ms, p.BareP90ms, p.BareP99ms = percentile(bare.latencies, 50), percentile(bare.latencies, 90), percentile(bare.latencies, 99)
	p.BarePublishLagMaxMs = ms(bare.publishLag)
	var e endToEnd
	err = res.measureCost(opts.Dir, func() (int, error) {
		e, err = measureEndToEndPaced(ctx, "paced", opts.Events, opts.Webhooks, opts.Rate, opts.Progress)
		return e.deliveries, err
	})
	if err != nil {
		return res, fmt.Errorf("end to end: %w", err)
	}
	res.setEndToEnd(e)
	p.PublishLagMaxMs = ms(e.publishLag)
	if p.BareP50ms > 0 && p.BareP99ms > 0 {
		p.P50RatioToBare, p.P99RatioToBare = res.P50ms/p.BareP50ms, res.P99ms/p.BareP99ms
	}
	return res, nil
}

// measureBarePaced publishes n messages to a bare push subscription with a no-op endpoint at
// rate per second and waits until all are pushed.
func measureBarePaced(ctx context.Context, name string, n int, rate float64, progressOut io.Writer) (ceiling, error) {
	h, err := openBareHop(ctx, name, n, nil)
	if err != nil {
		return ceiling{}, err
	}
	defer h.close()
	results := make([]*pubsub.PublishResult, n)
	start := time.Now()
	lag, err := pace(ctx, start, n, rate, func(i int) { results[i] = h.publish(ctx, i) })
	if err != nil {
		return ceiling{}, err
	}
	c, err := h.finish(ctx, name+" bare hop", start, results, time.Minute, progressOut)
	c.publishLag = lag
	return c, err
}

// measureEndToEndPaced registers m webhooks of project pointing at a verifying receiver,
// publishes n job events at rate per second and waits for n×m verified POSTs.
func measureEndToEndPaced(ctx context.Context, project string, n, m int, rate float64, progressOut io.Writer) (endToEnd, error) {
	r, err := openRig(ctx, project, n, m)
	if err != nil {
		return endToEnd{}, err
	}
	defer r.close()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := time.Now()
	lag, err := pace(ctx, start, n, rate, func(i int) {
		e := r.event(i) // stamped now, at its slot: Publish waits for the server, so it runs aside
		wg.Go(func() {
			if err := r.publish(ctx, e); err != nil {
				errs <- err
			}
		})
	})
	wg.Wait()
	close(errs)
	if err == nil {
		err = <-errs
	}
	if err != nil {
		return endToEnd{}, err
	}
	e, err := r.finish(ctx, project+" end to end", start, n*m, 2*time.Minute, progressOut)
	e.publishLag = lag
	return e, err
}

// pace calls send(i) for i in [0, n) at start + i/rate: a steady stream, never a burst. send must
// not block (it would delay the slots after it). It returns how late the latest call was.
func pace(ctx context.Context, start time.Time, n int, rate float64, send func(i int)) (maxLag time.Duration, err error) {
	t := time.NewTimer(0)
	defer t.Stop()
	<-t.C
	for i := range n {
		at := start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
		if d := time.Until(at); d > 0 {
			t.Reset(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				return maxLag, ctx.Err()
			}
		}
		maxLag = max(maxLag, time.Since(at))
		send(i)
	}
	return maxLag, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// pacedTable is the human-readable report of the paced mode.
func (r Result) pacedTable() string {
	p := r.Paced
	return fmt.Sprintf(`paced                      %.0f events/s for %.0f s, × %d webhooks = %d deliveries (%d duplicates)
Jobhooks (published → verified POST)  p50 %.0f ms · p90 %.0f ms · p99 %.0f ms
bare one-hop push (no-op endpoint)    p50 %.0f ms · p90 %.0f ms · p99 %.0f ms (%d messages, same rate)
ratio to the bare hop      p50 %.2f× · p99 %.2f× (target ≤ 1.5×)
pacing held                latest publish %.1f ms behind its slot (bare hop: %.1f ms)
CPU of our functions       %.2f s per 1,000 deliveries
peak memory                %.0f MB (sum of the functions' peak RSS)
machine busy               %.0f %% of all cores during the Jobhooks run (bare hop: %.0f %%)
CPU per 1,000 deliveries   %s
`, p.RatePerSecond, p.DurationSeconds, r.Webhooks, r.Deliveries, r.Duplicates,
		r.P50ms, r.P90ms, r.P99ms, p.BareP50ms, p.BareP90ms, p.BareP99ms, p.BareMessages,
		p.P50RatioToBare, p.P99RatioToBare, p.PublishLagMaxMs, p.BarePublishLagMaxMs,
		r.CPUSecondsPer1000, r.PeakRSSMB, r.MachineBusy*100, p.BareMachineBusy*100, byProcess(r.CPUByProcessPer1000))
}
