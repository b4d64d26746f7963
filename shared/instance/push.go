package instance

import (
	"context"
	"fmt"
	"net/http"

	"github.com/jobhooks/jobhooks/shared/logging"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
)

// Builder creates a push function's handler from the instance's clients.
type Builder func(ctx context.Context, in *Instance) (pushmsg.HandlerFunc, error)

// PushFunction is the HTTP entry point of a Pub/Sub push function. A request that is not a push
// envelope is refused with 400 before anything connects; the handler is built on the first
// valid message (and again after a failed build), and until it is, messages are nacked so
// Pub/Sub redelivers them.
func PushFunction(in func() (*Instance, error), build Builder) http.HandlerFunc {
	handler := NewLazy(build)
	return func(w http.ResponseWriter, r *http.Request) {
		inst, err := in()
		if err != nil {
			http.Error(w, "function misconfigured", http.StatusInternalServerError)
			return
		}
		ctx := logging.WithTrace(r.Context(), r, inst.Config.GoogleProject)
		pushmsg.Handler(inst.Log, func(ctx context.Context, m pushmsg.Message) error {
			fn, err := handler.Get(ctx, inst)
			if err != nil {
				return fmt.Errorf("function not ready: %w", err)
			}
			return fn(ctx, m)
		})(w, r.WithContext(ctx))
	}
}
