package pipelinetest

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// allInCase is one column pair of the all-in table: n endpoints per event, first try.
type allInCase struct {
	n       int
	ops     count
	stored  storedSize
	traffic traffic
}

// The all-in price of a first-try delivery, line by line, at N=1 and N=5, regional and nam5,
// busy and idle (SPEC §10; terraform/README.md, What it costs per million deliveries), computed
// from counts and measurements of this run; the test fails unless the README holds exactly this
// table, and unless the push functions' request logs are excluded and the event line of an
// all-delivered event stays out of INFO (the cuts of shared/devtools/README.md, Log volume).
func TestCost_FirstTryAllInLinesAreCountedAndPriceTheAllInTable(t *testing.T) {
	t.Parallel()
	model := readIndexModel(t)
	var cases []allInCase
	for _, n := range []int{1, 5} {
		c, s := firstTryOn(t, n, 0)
		tr := pushedFirstTry(t, n)
		for _, l := range tr.lines {
			t.Logf("N=%d: logged %d B: %s", n, len(l), l)
		}
		if strings.Count(strings.Join(tr.lines, "\n"), `"message":"delivery attempt"`) != n || len(tr.lines) != n {
			t.Errorf("N=%d: %d lines at INFO, want exactly one attempt line per delivery (the event line of an all-delivered event is DEBUG)", n, len(tr.lines))
		}
		cases = append(cases, allInCase{n: n, ops: c, stored: storedBytes(t, s, c.Docs, model), traffic: tr})
	}
	tf, err := os.ReadFile("../../../terraform/logging.tf")
	if err != nil || !strings.Contains(string(tf), `resource "google_logging_project_exclusion" "push_request_logs"`) {
		t.Fatalf("terraform/logging.tf must exclude the push functions' request logs (%v)", err)
	}
	if !strings.Contains(string(tf), `resource "google_logging_project_exclusion" "delivered_attempt_logs"`) {
		t.Fatal("terraform/logging.tf must store only delivered_attempt_logs_kept of the delivered attempts' lines")
	}
	table := allInTable(t, cases)
	t.Logf("all-in table:\n%s", table)
	doc, err := os.ReadFile("../../../terraform/README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), table) {
		t.Errorf("terraform/README.md does not hold the all-in table these counts compute to; put this in it:\n%s", table)
	}
}

// allInTable renders the cases: one row per cost line, per delivery, and the price of a million.
func allInTable(t *testing.T, cases []allInCase) string {
	ttlMonths := tfNumber(t, "record_ttl") / hoursPerMonth
	concurrency := tfNumber(t, "function_concurrency")
	vcpu := tfNumber(t, "function_cpu")
	memGiB := tfNumber(t, "function_memory") / 1024
	sampled := tfNumber(t, "trace_sample_ratio")
	kept := tfNumber(t, "delivered_attempt_logs_kept")
	instanceSecond := vcpu*allInPrices.vcpuSecond + memGiB*allInPrices.gibSecond

	type line struct {
		name     string
		quantity func(c allInCase) string
		price    func(c allInCase, multi bool) float64 // per delivery
	}
	per := func(c allInCase, v int) float64 { return float64(v) / float64(c.n) }
	stored := func(c allInCase) float64 { // what the _Default bucket stores and bills
		return per(c, c.traffic.logBytes-c.traffic.delivered) + kept*per(c, c.traffic.delivered)
	}
	requests := func(c allInCase) float64 { return 1 / float64(c.n) } // one push of the job event
	fs := func(multi bool) struct{ read, write, delete float64 } {
		if multi {
			return prices.multiRegion
		}
		return prices.regional
	}
	lines := []line{
		{"Firestore operations", func(c allInCase) string {
			return fmt.Sprintf("%g reads, %g writes, %g TTL deletes", per(c, c.ops.Reads), per(c, c.ops.Writes), per(c, c.ops.Deletes))
		}, func(c allInCase, multi bool) float64 {
			p := fs(multi)
			return (per(c, c.ops.Reads)*p.read + per(c, c.ops.Writes)*p.write + per(c, c.ops.Deletes)*p.delete) / 1e5
		}},
		{"Firestore storage for the record TTL", func(c allInCase) string {
			return fmt.Sprintf("%.0f B (documents %.0f, index entries %.0f) × %.2f months", per(c, c.stored.total()), per(c, c.stored.document), per(c, c.stored.singleField+c.stored.composite), ttlMonths)
		}, func(c allInCase, multi bool) float64 {
			p := allInPrices.storageRegional
			if multi {
				p = allInPrices.storageMultiRegion
			}
			return per(c, c.stored.total()) / gib * ttlMonths * p
		}},
		{"Pub/Sub", func(c allInCase) string {
			return fmt.Sprintf("%g × 1,000 B", 2*requests(c))
		}, func(c allInCase, _ bool) float64 {
			return 2 * requests(c) * prices.messageBytes / (1 << 40) * prices.pubsubPerTiB // the publish and its push
		}},
		{"Cloud Run requests", func(c allInCase) string { return fmt.Sprintf("%g", requests(c)) },
			func(c allInCase, _ bool) float64 { return requests(c) * prices.requestsPerMillion / 1e6 }},
		{"Cloud Run CPU and memory, busy instance", func(c allInCase) string {
			return fmt.Sprintf("%g × %g s / %g concurrent", requests(c), requestSeconds, concurrency)
		}, func(c allInCase, _ bool) float64 { return requests(c) * requestSeconds / concurrency * instanceSecond }},
		{"Cloud Logging, the functions' lines", func(c allInCase) string {
			return fmt.Sprintf("%.0f B stored of %.0f B logged (delivered attempts' lines at %g %%)", stored(c), per(c, c.traffic.logBytes), kept*100)
		}, func(c allInCase, _ bool) float64 { return stored(c) / gib * allInPrices.loggingGiB }},
		{"Cloud Logging, Cloud Run request logs (excluded)", func(c allInCase) string {
			return fmt.Sprintf("0 B (%.0f B kept without the exclusion)", requests(c)*float64(len(requestLogEntry)))
		}, func(allInCase, bool) float64 { return 0 }},
		{"Cloud Trace", func(c allInCase) string {
			return fmt.Sprintf("%g spans × %g sampled", per(c, c.traffic.spans), sampled)
		}, func(c allInCase, _ bool) float64 {
			return per(c, c.traffic.spans) * sampled * allInPrices.traceMillion / 1e6
		}},
		{"Egress: the POST", func(c allInCase) string { return fmt.Sprintf("%.0f B", per(c, c.traffic.postBytes)) },
			func(c allInCase, _ bool) float64 { return per(c, c.traffic.postBytes) / gib * allInPrices.egressGiB }},
	}
	idle := func(c allInCase) float64 { return requests(c) * requestSeconds * (1 - 1/concurrency) * instanceSecond }

	var b strings.Builder
	b.WriteString("| per first-try delivery | one endpoint per event | five endpoints per event | 1 endpoint, regional | 1 endpoint, `nam5` | 5 endpoints, regional | 5 endpoints, `nam5` |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	total := map[[2]int]float64{}
	for _, l := range lines {
		fmt.Fprintf(&b, "| %s | %s | %s |", l.name, l.quantity(cases[0]), l.quantity(cases[1]))
		for i, c := range cases {
			for j, multi := range []bool{false, true} {
				p := l.price(c, multi)
				total[[2]int{i, j}] += p
				fmt.Fprintf(&b, " $%.3f |", p*1e6)
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "| **all in, busy instance** | | |")
	for i := range cases {
		for j := range 2 {
			fmt.Fprintf(&b, " **$%.2f** |", total[[2]int{i, j}]*1e6)
		}
	}
	fmt.Fprintf(&b, "\n| Cloud Run CPU and memory, idle instance instead | %g × %g s, alone | %g × %g s, alone |", requests(cases[0]), requestSeconds, requests(cases[1]), requestSeconds)
	for _, c := range cases {
		for range 2 {
			fmt.Fprintf(&b, " +$%.3f |", idle(c)*1e6)
		}
	}
	fmt.Fprintf(&b, "\n| **all in, idle instance** | | |")
	for i, c := range cases {
		for j := range 2 {
			fmt.Fprintf(&b, " **$%.2f** |", (total[[2]int{i, j}]+idle(c))*1e6)
		}
	}
	b.WriteString("\n")
	return b.String()
}
