package restapi_test

import (
	"context"
	"testing"

	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
)

// propagate_trace (shared/tracing/README.md, Receivers): off unless set, settable on both surfaces,
// stored where Deliver reads it.
func TestPropagateTrace_IsOffByDefaultAndSettableOnBothSurfaces(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{})
	type flag struct {
		ID             string `json:"id"`
		PropagateTrace *bool  `json:"propagate_trace"`
	}
	is := func(f flag, want bool) bool {
		return f.PropagateTrace != nil && *f.PropagateTrace == want || f.PropagateTrace == nil && !want
	}

	var a flag
	c.createA("traced", "https://a.example.com/h")
	c.do("GET", "/v1/projects/acme/webhooks/traced", "").ok(t, &a)
	if a.PropagateTrace == nil || *a.PropagateTrace {
		t.Errorf("Surface A, created without it: propagate_trace = %v, want false shown", a.PropagateTrace)
	}
	c.do("PATCH", "/v1/projects/acme/webhooks/traced?update_mask=propagate_trace", `{"propagate_trace":true}`).ok(t, &a)
	if !is(a, true) {
		t.Errorf("Surface A, after the update: propagate_trace = %v", a.PropagateTrace)
	}

	var b flag
	c.do("POST", "/v1beta/webhooks", `{"uri":"https://b.example.com/h","subscribed_events":["batch.succeeded"],"propagate_trace":true}`).ok(t, &b)
	if !is(b, true) {
		t.Errorf("Surface B create: propagate_trace = %v", b.PropagateTrace)
	}
	var off flag // Surface B leaves a false propagate_trace out, like the other defaults of its format
	c.do("PATCH", "/v1beta/webhooks/"+b.ID+"?update_mask=propagate_trace", `{"propagate_trace":false}`).ok(t, &off)
	if !is(off, false) {
		t.Errorf("Surface B, after the update: propagate_trace = %v", *off.PropagateTrace)
	}

	for id, want := range map[string]bool{"traced": true, b.ID: false} {
		w, err := s.Store.GetWebhook(context.Background(), "acme", id)
		if err != nil || w.PropagateTrace != want {
			t.Errorf("stored webhook %s: propagate_trace %v (%v), want %v", id, w.PropagateTrace, err, want)
		}
	}
}
