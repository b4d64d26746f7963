package restapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest"
)

func fsUpdate(path string, v any) []firestore.Update {
	return []firestore.Update{{Path: path, Value: v}}
}

// A webhook's throttle (shared/delivery/README.md, Throttle): max_in_flight and rate_limit are
// settable on both surfaces (Surface B as extensions), stored where Deliver reads them, refused
// outside 0..500 with the field named, and Surface A shows the endpoint's state.
func TestThrottle_IsSettableOnBothSurfacesAndTheEndpointStateIsShown(t *testing.T) {
	t.Parallel()
	s, c := env(t, pipelinetest.Options{})
	type shown struct {
		ID              string `json:"id"`
		MaxInFlight     *int   `json:"max_in_flight"`
		RateLimit       *int   `json:"rate_limit"`
		EndpointState   string `json:"endpoint_state"`
		AllowedInFlight int    `json:"allowed_in_flight"`
		PausedUntil     string `json:"paused_until"`
	}
	var a shown
	c.createA("small", "https://a.example.com/h")
	c.do("GET", "/v1/projects/acme/webhooks/small", "").ok(t, &a)
	if a.MaxInFlight == nil || *a.MaxInFlight != 0 || a.RateLimit == nil || *a.RateLimit != 0 || a.EndpointState != "OK" {
		t.Errorf("Surface A, created without a throttle: %+v, want max_in_flight 0, rate_limit 0 shown and endpoint_state OK", a)
	}
	c.do("PATCH", "/v1/projects/acme/webhooks/small?update_mask=max_in_flight,rate_limit", `{"max_in_flight":5,"rate_limit":50}`).ok(t, &a)
	if a.MaxInFlight == nil || *a.MaxInFlight != 5 || a.RateLimit == nil || *a.RateLimit != 50 {
		t.Errorf("Surface A, after the update: %+v", a)
	}
	for _, bad := range []string{`{"max_in_flight":501}`, `{"max_in_flight":-1}`, `{"rate_limit":100000}`} {
		field := "max_in_flight"
		if strings.Contains(bad, "rate_limit") {
			field = "rate_limit"
		}
		r := c.do("PATCH", "/v1/projects/acme/webhooks/small?update_mask="+field, bad)
		if r.status != 400 || !strings.Contains(string(r.body), field) || !strings.Contains(string(r.body), "500") {
			t.Errorf("%s: %d %s, want 400 naming %s and its limit", bad, r.status, r.body, field)
		}
	}

	var b shown
	c.do("POST", "/v1beta/webhooks", `{"uri":"https://b.example.com/h","subscribed_events":["batch.succeeded"],"max_in_flight":2,"rate_limit":10}`).ok(t, &b)
	if b.MaxInFlight == nil || *b.MaxInFlight != 2 || b.RateLimit == nil || *b.RateLimit != 10 {
		t.Errorf("Surface B create: %+v", b)
	}

	ctx := context.Background()
	for id, want := range map[string][2]int{"small": {5, 50}, b.ID: {2, 10}} {
		w, err := s.Store.GetWebhook(ctx, "acme", id)
		if err != nil || w.MaxInFlight != want[0] || w.RateLimit != want[1] {
			t.Errorf("stored webhook %s: max_in_flight %d, rate_limit %d (%v), want %v", id, w.MaxInFlight, w.RateLimit, err, want)
		}
	}

	// The endpoint's state as Deliver leaves it: lowered by 429s, paused, circuit open.
	states := []struct {
		name string
		set  func()
		want string
	}{
		{"lowered", func() {
			s.Store.Client().Doc("projects/acme/webhooks/small").Update(ctx, fsUpdate("allowed_in_flight", 2))
		}, "THROTTLED"},
		{"paused", func() {
			s.Store.Client().Doc("projects/acme/webhooks/small").Update(ctx, fsUpdate("paused_until", time.Now().Add(time.Hour)))
		}, "PAUSED"},
		{"failing for long", func() {
			s.Store.Client().Doc("projects/acme/webhooks/small").Update(ctx, append(fsUpdate("failing_since", time.Now().Add(-time.Hour)),
				fsUpdate("retrying_since", time.Now().Add(-time.Hour))...))
		}, "CIRCUIT_OPEN"},
	}
	for _, st := range states {
		st.set()
		var got shown
		c.do("GET", "/v1/projects/acme/webhooks/small", "").ok(t, &got)
		if got.EndpointState != st.want {
			t.Errorf("%s: endpoint_state %q, want %q", st.name, got.EndpointState, st.want)
		}
		if st.want == "THROTTLED" && got.AllowedInFlight != 2 {
			t.Errorf("lowered: allowed_in_flight %d, want 2", got.AllowedInFlight)
		}
	}
}
