package faults

import (
	"bufio"
	"encoding/json"
	"io"
	"strings"
	"time"
)

// Logged is the message of the log line of every injected failure.
const Logged = "fault injected"

// Fault is one injected failure, as its log line tells it.
type Fault struct {
	Time time.Time `json:"time"`
	// Call is the gRPC method's name: Commit, BeginTransaction, Rollback, Publish, BatchGetDocuments, RunQuery.
	Call string `json:"call"`
	Code string `json:"code"`
	// AfterCall: the call was made and succeeded, and its answer replaced by the failure.
	AfterCall bool `json:"after_call"`
	// Touched are the documents a commit wrote ("projects/demo/deliveries/ID") or the tasks a
	// publish carried ("delivery:ID").
	Touched []string `json:"touched"`
}

// Read returns the failures logged in a function's log, skipping every other line.
func Read(r io.Reader) ([]Fault, error) {
	var out []Fault
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !strings.Contains(string(line), `"message":"`+Logged+`"`) {
			continue
		}
		var f Fault
		if json.Unmarshal(line, &f) == nil {
			out = append(out, f)
		}
	}
	return out, sc.Err()
}
