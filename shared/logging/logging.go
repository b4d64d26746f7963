// Package logging writes structured logs as Cloud Logging reads them: one JSON object per line
// with `severity`, `message`, `time` and the trace it belongs to: `logging.googleapis.com/trace`,
// `logging.googleapis.com/spanId` and `logging.googleapis.com/trace_sampled` of the span in the
// context (the job event's trace, shared/tracing), else the trace header of the request, so that
// the Console's "show logs for this trace" finds every line of one event.
//
// Nothing here redacts: callers never pass secrets, API keys or request bodies to a logger.
package logging

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// New returns a logger writing Cloud Logging JSON lines to w. Its lines name a span's trace
// only when the context also carries the Google Cloud project (WithTrace); NewForProject's
// always do.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	return NewForProject(w, level, "")
}

// NewForProject returns a logger whose lines name the trace of the context's span as a trace of
// googleProject, where Cloud Trace keeps it.
func NewForProject(w io.Writer, level slog.Leveler, googleProject string) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: cloudNames})
	return slog.New(traceHandler{Handler: h, project: googleProject})
}

// Default is the logger of a function instance: INFO and above to stdout, where Cloud Run
// functions pick it up.
func Default() *slog.Logger { return New(os.Stdout, slog.LevelInfo) }

// DefaultForProject is Default naming traces of googleProject.
func DefaultForProject(googleProject string) *slog.Logger {
	return NewForProject(os.Stdout, slog.LevelInfo, googleProject)
}

func cloudNames(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.MessageKey:
		a.Key = "message"
	case slog.LevelKey:
		a.Key = "severity"
		a.Value = slog.StringValue(severity(a.Value.Any().(slog.Level)))
	}
	return a
}

func severity(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}

type (
	traceKey   struct{}
	projectKey struct{}
)

// WithTrace returns ctx carrying the Google Cloud project and the Cloud Logging trace of r (from
// X-Cloud-Trace-Context or traceparent): every line logged with ctx is grouped under the trace
// of its span, or under the request's when it has none.
func WithTrace(ctx context.Context, r *http.Request, googleProject string) context.Context {
	if googleProject == "" {
		return ctx
	}
	ctx = context.WithValue(ctx, projectKey{}, googleProject)
	if id := traceID(r); id != "" {
		ctx = context.WithValue(ctx, traceKey{}, "projects/"+googleProject+"/traces/"+id)
	}
	return ctx
}

func traceID(r *http.Request) string {
	if v := r.Header.Get("traceparent"); v != "" {
		// W3C: version-traceid-parentid-flags
		if parts := strings.Split(v, "-"); len(parts) == 4 && len(parts[1]) == 32 {
			return parts[1]
		}
	}
	if v := r.Header.Get("X-Cloud-Trace-Context"); v != "" {
		// TRACE_ID/SPAN_ID;o=OPTIONS
		id, _, _ := strings.Cut(v, "/")
		if isHex(id) {
			return id
		}
	}
	return ""
}

func isHex(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// Cloud Logging's fields that join a line to a trace.
const (
	TraceField   = "logging.googleapis.com/trace"
	SpanField    = "logging.googleapis.com/spanId"
	SampledField = "logging.googleapis.com/trace_sampled"
)

// traceHandler adds the trace of the context to every record.
type traceHandler struct {
	slog.Handler
	project string
}

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	project := h.project
	if project == "" {
		project, _ = ctx.Value(projectKey{}).(string)
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && project != "" {
		r.AddAttrs(
			slog.String(TraceField, "projects/"+project+"/traces/"+sc.TraceID().String()),
			slog.String(SpanField, sc.SpanID().String()),
			slog.Bool(SampledField, sc.IsSampled()),
		)
	} else if tr, ok := ctx.Value(traceKey{}).(string); ok {
		r.AddAttrs(slog.String(TraceField, tr))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs), h.project}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name), h.project}
}
