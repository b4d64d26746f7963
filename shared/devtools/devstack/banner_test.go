package devstack

import (
	"strings"
	"testing"
)

// TestBanner_SuggestsWhatWorksInTheStacksMode: --secure refuses http and loopback targets, so
// its banner suggests neither; in demo mode the demo is already running, so the banner does not
// send the reader to it.
func TestBanner_SuggestsWhatWorksInTheStacksMode(t *testing.T) {
	for _, c := range []struct {
		name       string
		o          bannerOptions
		has, lacks []string
	}{
		{"default", bannerOptions{EnvPath: ".dev/env"},
			[]string{`"url":"http://127.0.0.1:9999/hook"`, "scripts/dev demo does all of this", "source .dev/env", "scripts/publish"}, nil},
		{"secure", bannerOptions{EnvPath: ".dev/env", Secure: true},
			[]string{`"url":"https://`, "must be https on a public address", "scripts/publish"},
			[]string{`"url":"http://`, "scripts/dev demo does all of this"}},
		{"demo", bannerOptions{EnvPath: ".dev/env", Demo: true},
			[]string{"webhooks/demo/deliveries", "scripts/publish --project demo", "scripts/trace"},
			[]string{"scripts/dev demo", "webhook_id=hello"}},
	} {
		got := banner(c.o)
		for _, s := range c.has {
			if !strings.Contains(got, s) {
				t.Errorf("%s banner lacks %q:\n%s", c.name, s, got)
			}
		}
		for _, s := range c.lacks {
			if strings.Contains(got, s) {
				t.Errorf("%s banner says %q:\n%s", c.name, s, got)
			}
		}
	}
}
