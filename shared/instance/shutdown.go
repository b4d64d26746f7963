package instance

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// FlushGrace bounds the flush of an instance's spans at SIGTERM. Cloud Run sends SIGTERM before
// it stops an instance and SIGKILL 10 s later; the local stack kills a function 5 s after it.
const FlushGrace = 3 * time.Second

// FlushOnSIGTERM exports the spans tp still holds in its batch when the process gets SIGTERM,
// within grace, then lets the signal end the process as it would have without this hook.
// Spans are exported in batches off the request path (shared/tracing/README.md, Export): without
// it, the last seconds of spans of every stopped instance would be lost. functions-framework-go
// runs its own HTTP server and handles no signal, so the instance's setup (Default) installs it.
func FlushOnSIGTERM(tp *sdktrace.TracerProvider, grace time.Duration, log *slog.Logger) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // SIGTERM ends the process again: the signal raised below does
		flush, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		if err := tp.Shutdown(flush); err != nil {
			log.Warn("spans not flushed at SIGTERM", "error", err.Error())
		}
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			_ = p.Signal(syscall.SIGTERM)
		}
	}()
}
