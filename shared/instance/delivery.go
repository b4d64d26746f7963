package instance

import (
	"context"

	"github.com/jobhooks/jobhooks/shared/delivery"
)

// Deliverer builds the delivery library on the instance's clients: Dispatch makes first attempts
// with it, Deliver retries with it. Each function builds one, once (PushFunction keeps it).
func (in *Instance) Deliverer(ctx context.Context) (*delivery.Service, error) {
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
		Store: st, Publisher: pub, Keyring: kr, Sender: in.Sender(), Log: in.Log, Now: in.Now, Tracer: in.Tracer,
		DynamicSigner: signers.For,
	}), nil
}
