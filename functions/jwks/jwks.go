// Package jwks is the JWKS function: the public keys of the dynamic-webhook signing key at
// GET /.well-known/jwks.json (shared/jwks), public and cacheable. It reads only the published
// public key set (JOBHOOKS_SIGNING_JWKS_SECRET), never the private keys.
package jwks

import (
	"context"
	"net/http"
	"sync"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/jobhooks/jobhooks/shared/instance"
	"github.com/jobhooks/jobhooks/shared/jwks"
	"github.com/jobhooks/jobhooks/shared/signingkey"
)

func init() {
	functions.HTTP("JWKS", Handler(instance.Default))
}

// Handler is the entry point over the instance in returns. The Secret Manager client is created
// on the first request that needs it, so the function answers before it can reach Google Cloud.
func Handler(in func() (*instance.Instance, error)) http.HandlerFunc {
	var (
		once sync.Once
		h    http.Handler
	)
	return func(w http.ResponseWriter, r *http.Request) {
		inst, err := in()
		if err != nil {
			jwks.WriteError(w, http.StatusServiceUnavailable, "function misconfigured")
			return
		}
		once.Do(func() {
			h = jwks.Handler(func(ctx context.Context) (*signingkey.PublicSet, error) {
				src, err := inst.PublicSigningKeys(ctx)
				if err != nil {
					return nil, err
				}
				return src.Keys(ctx)
			}, inst.Log)
		})
		h.ServeHTTP(w, r)
	}
}
