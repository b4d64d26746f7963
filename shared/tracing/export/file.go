package export

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// FileSpan is one line of a span file (ExportFile): what the local stack's waterfall reads.
type FileSpan struct {
	TraceID    string         `json:"trace_id"`
	SpanID     string         `json:"span_id"`
	ParentID   string         `json:"parent_span_id,omitempty"`
	Name       string         `json:"name"`
	Start      time.Time      `json:"start"`
	End        time.Time      `json:"end"`
	Error      string         `json:"error,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// FileExporter appends spans as JSON lines to one file per process (no two processes write
// the same file, so lines never interleave).
type FileExporter struct {
	mu sync.Mutex
	f  *os.File
}

var _ sdktrace.SpanExporter = (*FileExporter)(nil)

// NewFileExporter appends to dir/service.jsonl, creating dir.
func NewFileExporter(dir, service string) (*FileExporter, error) {
	if dir == "" || service == "" {
		return nil, fmt.Errorf("export: the file exporter needs a directory and a service name")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, service+".jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return &FileExporter{f: f}, nil
}

// ExportSpans writes one line per span.
func (e *FileExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	var buf []byte
	for _, s := range spans {
		line, err := json.Marshal(fileSpan(s))
		if err != nil {
			return err
		}
		buf = append(append(buf, line...), '\n')
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err := e.f.Write(buf)
	return err
}

// Shutdown closes the file.
func (e *FileExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.f.Close()
}

func fileSpan(s sdktrace.ReadOnlySpan) FileSpan {
	fs := FileSpan{
		TraceID: s.SpanContext().TraceID().String(), SpanID: s.SpanContext().SpanID().String(),
		Name: s.Name(), Start: s.StartTime(), End: s.EndTime(), Attributes: map[string]any{},
	}
	if p := s.Parent(); p.IsValid() {
		fs.ParentID = p.SpanID().String()
	}
	if st := s.Status(); st.Code == codes.Error {
		fs.Error = st.Description
		if fs.Error == "" {
			fs.Error = "error"
		}
	}
	for _, a := range s.Attributes() {
		fs.Attributes[string(a.Key)] = a.Value.AsInterface()
	}
	return fs
}
