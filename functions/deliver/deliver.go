// Package deliver is the Deliver function: delivery tasks pushed from the webhook-deliveries
// topic become signed POSTs, retried through Pub/Sub redelivery (shared/delivery).
package deliver

import (
	"context"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/jobhooks/jobhooks/shared/instance"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
)

func init() {
	functions.HTTP("Deliver", instance.PushFunction(instance.Default, Build))
}

// Build creates the handler from the instance's clients.
func Build(ctx context.Context, in *instance.Instance) (pushmsg.HandlerFunc, error) {
	d, err := in.Deliverer(ctx)
	if err != nil {
		return nil, err
	}
	return d.Handle, nil
}
