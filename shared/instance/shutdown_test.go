package instance

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/jobhooks/jobhooks/shared/tracing/export"
)

// flushDirEnv makes the test binary the instance under test: it ends a span, gets SIGTERM and
// must write the span to this directory before the signal ends it.
const flushDirEnv = "JOBHOOKS_TEST_FLUSH_DIR"

func TestFlushOnSIGTERM_SpansStillBatchedAreExportedAndTheSignalStillEndsTheProcess(t *testing.T) {
	if dir := os.Getenv(flushDirEnv); dir != "" {
		terminatedWithASpanInItsBatch(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFlushOnSIGTERM_", "-test.count=1")
	cmd.Env = append(os.Environ(), flushDirEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !exit.Sys().(syscall.WaitStatus).Signaled() || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Fatalf("the instance ended with %v, want killed by SIGTERM as without the hook; output:\n%s", err, out)
	}
	spans, err := os.ReadFile(filepath.Join(dir, "instance.jsonl"))
	if err != nil || !strings.Contains(string(spans), `"name":"Deliver"`) {
		t.Errorf("span file %q (%v); want the Deliver span that was still in the batch at SIGTERM", spans, err)
	}
}

// terminatedWithASpanInItsBatch is the instance: a batch that would wait an hour, one span
// ended into it, then SIGTERM, as Cloud Run sends it.
func terminatedWithASpanInItsBatch(dir string) {
	exp, err := export.NewFileExporter(dir, "instance")
	if err != nil {
		panic(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Hour)))
	FlushOnSIGTERM(tp, FlushGrace, slog.New(slog.NewTextHandler(io.Discard, nil)))
	_, span := tp.Tracer("test").Start(context.Background(), "Deliver")
	span.End()
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	time.Sleep(10 * time.Second)
	os.Exit(3) // the signal did not end the process
}
