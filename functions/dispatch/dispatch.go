// Package dispatch is the Dispatch function: job events pushed from the job-events topic get
// their first attempt to every target at once, and a delivery task for each target that needs a
// retry (shared/fanout); the management API's requests, pushed from the webhook-requests topic,
// are checked against the store and carried out (shared/request).
package dispatch

import (
	"context"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/jobhooks/jobhooks/shared/fanout"
	"github.com/jobhooks/jobhooks/shared/instance"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
)

func init() {
	functions.HTTP("Dispatch", instance.PushFunction(instance.Default, Build))
}

// Build creates the handler from the instance's clients.
func Build(ctx context.Context, in *instance.Instance) (pushmsg.HandlerFunc, error) {
	st, err := in.Store(ctx)
	if err != nil {
		return nil, err
	}
	pub, err := in.Publisher(ctx)
	if err != nil {
		return nil, err
	}
	d, err := in.Deliverer(ctx)
	if err != nil {
		return nil, err
	}
	return fanout.New(in.Config, fanout.Deps{Store: st, Publisher: pub, Delivery: d, Log: in.Log, Now: in.Now, Tracer: in.Tracer}).Handle, nil
}
