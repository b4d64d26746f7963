package store

import (
	"context"
	"testing"
	"time"
)

// A delivery record keeps the traceparent it was created with (shared/tracing/README.md, Spans): a
// later write leaves it as it is, whatever the struct it writes holds, and a record created without
// one stays without.
func TestPutDelivery_TheTraceparentIsWrittenOnlyWithTheNewRecord(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	const event = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	const other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	for _, tc := range []struct{ id, created string }{{"dlv_traced", event}, {"dlv_untraced", ""}} {
		d := Delivery{ID: tc.id, Project: "p", Webhook: "w", State: Pending, CreateTime: time.Now(), Traceparent: tc.created}
		if err := s.PutDelivery(ctx, &d); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetDelivery(ctx, "p", tc.id)
		if err != nil || got.Traceparent != tc.created {
			t.Fatalf("%s: created with traceparent %q, read %q (%v)", tc.id, tc.created, got.Traceparent, err)
		}
		got.State, got.Traceparent = Failed, other
		if err := s.RecordAttempt(ctx, &got, Attempt{Number: 1, Time: time.Now(), Outcome: "failed"}); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.GetDelivery(ctx, "p", tc.id); got.State != Failed || got.Traceparent != tc.created {
			t.Errorf("%s after a write carrying another trace: %s, traceparent %q; want failed, %q", tc.id, got.State, got.Traceparent, tc.created)
		}
	}
}
