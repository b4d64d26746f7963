// Package deliver is the Deliver function: delivery tasks pushed from the webhook-deliveries
// topic become signed POSTs, retried through Pub/Sub redelivery (shared/delivery).
package deliver

import (
	"context"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/jobhooks/jobhooks/shared/delivery"
	"github.com/jobhooks/jobhooks/shared/instance"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
)

func init() {
	functions.HTTP("Deliver", instance.PushFunction(instance.Default, Build))
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
	kr, err := in.Keyring(ctx)
	if err != nil {
		return nil, err
	}
	// Dynamic webhooks are signed with the deployment's key (v1a or jwt). The key set is read
	// lazily on the first dynamic delivery: a deployment without one still delivers static webhooks.
	signers, err := in.DynamicSigners(ctx)
	if err != nil {
		return nil, err
	}
	return delivery.New(in.Config, delivery.Deps{
		Store: st, Publisher: pub, Keyring: kr, Sender: in.Sender(), Log: in.Log, Now: in.Now,
		DynamicSigner: func(ctx context.Context, targetURL string) (delivery.Signer, error) {
			return signers.For(ctx, targetURL)
		},
	}).Handle, nil
}
