package pipelinetest

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A fault fails calls of an instance without killing it: Firestore or Pub/Sub answering an
// error, either before the call reaches the emulator or after it was carried out (a commit or
// publish that happened, answered as if it had not). The client libraries retry some codes on
// their own (Unavailable, for a commit), so a fault that must reach the handler uses a code they
// give up on, or lasts for every call.
type fault struct {
	method string
	match  func(req any) bool
	when   timing
	code   codes.Code
	// times is how many matching calls fail; 0 fails every one.
	times int
}

// inject adds f to the instance's faults.
func (proc *process) inject(f fault) {
	proc.mu.Lock()
	defer proc.mu.Unlock()
	proc.faults = append(proc.faults, &f)
}

// faultOf is the error a fault gives the call (method, req) at this timing, nil for none.
func (proc *process) faultOf(method string, req any, when timing) error {
	proc.mu.Lock()
	defer proc.mu.Unlock()
	for i, f := range proc.faults {
		if f.method != method || f.when != when || (f.match != nil && !f.match(req)) {
			continue
		}
		if f.times > 0 {
			if f.times--; f.times == 0 {
				proc.faults = append(proc.faults[:i:i], proc.faults[i+1:]...)
			}
		}
		return status.Error(f.code, "test: injected fault")
	}
	return nil
}
