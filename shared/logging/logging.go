// Package logging writes structured logs as Cloud Logging reads them: one JSON object per line
// with `severity`, `message`, `time` and, when the request carried a trace header,
// `logging.googleapis.com/trace`, so that the Console groups a request's lines under its trace.
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
)

// New returns a logger writing Cloud Logging JSON lines to w.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: cloudNames})
	return slog.New(traceHandler{h})
}

// Default is the logger of a function instance: INFO and above to stdout, where Cloud Run
// functions pick it up.
func Default() *slog.Logger { return New(os.Stdout, slog.LevelInfo) }

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

type traceKey struct{}

// WithTrace returns ctx carrying the Cloud Logging trace of r (from X-Cloud-Trace-Context or
// traceparent), so that every line logged with ctx is grouped under it.
func WithTrace(ctx context.Context, r *http.Request, googleProject string) context.Context {
	id := traceID(r)
	if id == "" || googleProject == "" {
		return ctx
	}
	return context.WithValue(ctx, traceKey{}, "projects/"+googleProject+"/traces/"+id)
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

// traceHandler adds the trace of the context to every record.
type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if trace, ok := ctx.Value(traceKey{}).(string); ok {
		r.AddAttrs(slog.String("logging.googleapis.com/trace", trace))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
