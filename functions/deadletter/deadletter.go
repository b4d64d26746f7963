// Package deadletter is the DeadLetter function: every message on the webhook-dead-letter topic
// is recorded as final and logged at ERROR (shared/deadletter).
package deadletter

import (
	"context"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	dl "github.com/jobhooks/jobhooks/shared/deadletter"
	"github.com/jobhooks/jobhooks/shared/instance"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
)

func init() {
	functions.HTTP("DeadLetter", instance.PushFunction(instance.Default, Build))
}

// Build creates the handler from the instance's clients.
func Build(ctx context.Context, in *instance.Instance) (pushmsg.HandlerFunc, error) {
	st, err := in.Store(ctx)
	if err != nil {
		return nil, err
	}
	return (&dl.Service{Store: st, Log: in.Log, Now: in.Now, Hold: dl.HoldFor(in.Config), Tracer: in.Tracer}).Handle, nil
}
