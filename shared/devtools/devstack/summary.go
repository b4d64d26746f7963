package devstack

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// summary is the live one-line summary: outcomes of delivery attempts and dead letters, read
// from the functions' own log lines (the same lines Cloud Logging's metrics count in
// production). Every function's log is read, not only Deliver's: Dispatch makes the first
// attempt of every delivery (README.md, How the pieces fit), Deliver the retries, and both log
// each attempt as "delivery attempt" with its outcome.
type summary struct {
	tails []*tail
	counts
}

// counts are the summary's numbers.
type counts struct {
	delivered, retrying, failed, deadLettered int
}

// newSummary counts the lines the functions write from now on: the logs of earlier runs of the
// stack, kept in the same files, are not this run's.
func newSummary(logDir string) *summary {
	s := &summary{}
	for _, name := range Functions {
		t := &tail{path: filepath.Join(logDir, strings.ToLower(name)+".log")}
		if fi, err := os.Stat(t.path); err == nil {
			t.offset = fi.Size()
		}
		s.tails = append(s.tails, t)
	}
	return s
}

// read counts the lines appended since the last read.
func (s *summary) read() {
	for _, t := range s.tails {
		t.lines(s.add)
	}
}

// add counts one log line. A blocked address, a 4xx and an exhausted window are all failures.
func (c *counts) add(m map[string]any) {
	switch m["message"] {
	case "delivery attempt":
		switch m["outcome"] {
		case "delivered":
			c.delivered++
		case "retry":
			c.retrying++
		case "failed", "exhausted":
			c.failed++
		}
	case "dead letter":
		c.deadLettered++
	}
}

func (c counts) String() string {
	return fmt.Sprintf("delivered %d · retries %d · failed %d · dead-lettered %d", c.delivered, c.retrying, c.failed, c.deadLettered)
}

// watch prints the summary every second, when it changed, until ctx is done.
func (s *summary) watch(ctx context.Context, out io.Writer) {
	var history []int // delivered count per second, for the rate
	last := ""
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(out)
			return
		case <-tick.C:
		}
		s.read()
		history = append(history, s.delivered)
		rate := 0
		if n := len(history); n > 5 {
			rate = (history[n-1] - history[n-6]) / 5
		} else if n > 1 {
			rate = (history[n-1] - history[0]) / (n - 1)
		}
		line := fmt.Sprintf("%s · %d deliveries/s", s.counts, rate)
		if line != last {
			fmt.Fprintf(out, "\r%-100s", line)
			last = line
		}
	}
}

// tail reads the JSON lines appended to a file since the last call.
type tail struct {
	path   string
	offset int64
}

func (t *tail) lines(fn func(map[string]any)) {
	f, err := os.Open(t.path)
	if err != nil {
		return
	}
	defer f.Close()
	if _, err := f.Seek(t.offset, io.SeekStart); err != nil {
		return
	}
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return // a partial last line is read again next time
		}
		t.offset += int64(len(line))
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			fn(m)
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// shellQuote quotes a value for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
