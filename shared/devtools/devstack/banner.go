package devstack

import (
	"fmt"
	"strings"
)

// bannerOptions are what the "try this" banner depends on: the mode of the stack decides what
// a first step can be.
type bannerOptions struct {
	// EnvPath is DIR/env, which the commands source.
	EnvPath string
	// Secure: targets must be https on a public address, so no local receiver can be one.
	Secure bool
	// Demo: the demo has created webhook demo and publishes its events right after the banner.
	Demo bool
}

// banner is the "try this" the stack prints when it is ready: commands that work in its mode.
func banner(o bannerOptions) string {
	var b strings.Builder
	fmt.Fprintf(&b, "try this, in another shell:\n  source %s\n", o.EnvPath)
	switch {
	case o.Demo:
		fmt.Fprintf(&b, `  scripts/publish --project %[1]s --type batch.succeeded      (one more event for webhook demo below)
  curl -s "$JOBHOOKS_API_URL/v1/projects/%[1]s/webhooks/demo/deliveries" -H "x-goog-api-key: $JOBHOOKS_API_KEY"
  scripts/trace                                               (the latest event's waterfall)`, Project)
	case o.Secure:
		fmt.Fprintf(&b, `  curl -s -X POST "$JOBHOOKS_API_URL/v1/projects/%[1]s/webhooks?webhook_id=hello" \
    -H "x-goog-api-key: $JOBHOOKS_API_KEY" -H 'content-type: application/json' \
    -d '{"url":"https://YOUR-PUBLIC-HOST/hook","subscribed_events":["batch.succeeded"]}'
  scripts/publish --project %[1]s --type batch.succeeded
  (--secure: as in production, a target must be https on a public address, such as a
   receiver of yours on the internet or an https tunnel to a local one; http:// and private
   or loopback addresses such as 127.0.0.1 are refused. Without --secure any local receiver
   works, and scripts/dev demo runs one.)`, Project)
	default:
		fmt.Fprintf(&b, `  curl -s -X POST "$JOBHOOKS_API_URL/v1/projects/%[1]s/webhooks?webhook_id=hello" \
    -H "x-goog-api-key: $JOBHOOKS_API_KEY" -H 'content-type: application/json' \
    -d '{"url":"http://127.0.0.1:9999/hook","subscribed_events":["batch.succeeded"]}'
  scripts/publish --project %[1]s --type batch.succeeded
  (scripts/dev demo does all of this with a verifying receiver; the API key is in %[2]s)`, Project, o.EnvPath)
	}
	return b.String()
}
