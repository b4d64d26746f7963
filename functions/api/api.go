// Package api is the API function: the management API of shared/restapi/README.md, The management
// API (shared/restapi over shared/management), authenticated with API keys (shared/apikeys) or
// portal links (shared/portal), and the web console beside it under /console/ (shared/console).
package api

import (
	"context"
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/jobhooks/jobhooks/shared/apikeys"
	"github.com/jobhooks/jobhooks/shared/console"
	"github.com/jobhooks/jobhooks/shared/instance"
	"github.com/jobhooks/jobhooks/shared/logging"
	"github.com/jobhooks/jobhooks/shared/management"
	"github.com/jobhooks/jobhooks/shared/restapi"
)

func init() {
	functions.HTTP("API", Handler(instance.Default))
}

// Handler is the function's entry point. The API is built on the first request, and again after
// a failed build; until it is, the router still answers — unknown paths 404, the API's methods
// 503 — in the API's error shape.
func Handler(in func() (*instance.Instance, error)) http.HandlerFunc {
	api := instance.NewLazy(Build)
	return func(w http.ResponseWriter, r *http.Request) {
		inst, err := in()
		if err != nil {
			restapi.WriteError(w, management.Errorf(management.Internal, "the function is misconfigured"), nil)
			return
		}
		r = r.WithContext(logging.WithTrace(r.Context(), r, inst.Config.GoogleProject))
		h, err := api.Get(r.Context(), inst)
		if err != nil {
			inst.Log.ErrorContext(r.Context(), "api not ready", "error", err.Error())
			h = restapi.New(restapi.Options{Log: inst.Log, Now: inst.Now, Console: consoleOf(inst)})
		}
		h.ServeHTTP(w, r)
	}
}

// Build creates the API from the instance's clients. None of them connects yet.
func Build(ctx context.Context, in *instance.Instance) (http.Handler, error) {
	st, err := in.Store(ctx)
	if err != nil {
		return nil, err
	}
	kr, err := in.Keyring(ctx)
	if err != nil {
		return nil, err
	}
	pub, err := in.Publisher(ctx)
	if err != nil {
		return nil, err
	}
	svc := management.New(in.Config, management.Deps{
		Store: st, Keyring: kr, Publisher: pub, URLs: in.Sender(), Log: in.Log, Now: in.Now,
	})
	links, err := in.Portal(ctx)
	if err != nil {
		return nil, err
	}
	return restapi.New(restapi.Options{
		Service: svc,
		Auth:    apikeys.NewAuthenticator(st, in.Config.CacheTTL, in.Now),
		Portal:  links,
		Console: consoleOf(in),
		Log:     in.Log,
		Now:     in.Now,
	}), nil
}

// consoleOf is the web console (shared/restapi/README.md, Console) as this deployment serves it.
func consoleOf(in *instance.Instance) http.Handler {
	return console.Handler(console.Options{FrameAncestors: in.Config.ConsoleFrameAncestors, JWKSURL: in.Config.JWKSURL})
}
