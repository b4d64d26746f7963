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

// counts is the live summary: outcomes of delivery attempts and dead letters, read from the
// functions' own log lines (the same lines Cloud Logging's metrics count in production).
type counts struct {
	delivered, retrying, failed, deadLettered int
}

// watch prints a one-line summary every second until ctx is done.
func watch(ctx context.Context, out io.Writer, logDir string) {
	deliver := &tail{path: filepath.Join(logDir, "deliver.log")}
	deadLetter := &tail{path: filepath.Join(logDir, "deadletter.log")}
	var c counts
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
		deliver.lines(func(m map[string]any) {
			if m["message"] != "delivery attempt" {
				return
			}
			switch m["outcome"] {
			case "delivered":
				c.delivered++
			case "retry":
				c.retrying++
			case "failed", "exhausted":
				c.failed++
			}
		})
		deadLetter.lines(func(m map[string]any) {
			if m["message"] == "dead letter" {
				c.deadLettered++
			}
		})
		history = append(history, c.delivered)
		rate := 0
		if n := len(history); n > 5 {
			rate = (history[n-1] - history[n-6]) / 5
		} else if n > 1 {
			rate = (history[n-1] - history[0]) / (n - 1)
		}
		line := fmt.Sprintf("delivered %d · retries %d · failed %d · dead-lettered %d · %d deliveries/s",
			c.delivered, c.retrying, c.failed, c.deadLettered, rate)
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
