package restapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"testing"

	"github.com/jobhooks/jobhooks/shared/management"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// decoder is the request-decoding half of one API method, up to the service call: the very
// function its handler calls. It returns what the service would be given.
type decoder struct {
	path string
	run  func(r *http.Request) (any, error)
}

// decoders are every method that reads a request body, on both surfaces. The handlers decode
// before they touch the store, so these run without one.
var decoders = map[string]decoder{
	"A create": {"/v1/projects/acme/webhooks", func(r *http.Request) (any, error) {
		req, err := resourceSurface.decodeCreate(r, "acme")
		return req.Settings, err
	}},
	"A update": {"/v1/projects/acme/webhooks/w", func(r *http.Request) (any, error) {
		return maskOfSettable(resourceSurface.decodeUpdate(r))
	}},
	"B create": {"/v1beta/webhooks", func(r *http.Request) (any, error) {
		req, err := geminiSurface.decodeCreate(r, "acme")
		return req.Settings, err
	}},
	"B update": {"/v1beta/webhooks/w", func(r *http.Request) (any, error) {
		return maskOfSettable(geminiSurface.decodeUpdate(r))
	}},
	"A rotate": {"/v1/projects/acme/webhooks/w:rotateSigningSecret", func(r *http.Request) (any, error) { return decodeRotation(r) }},
	"B rotate": {"/v1beta/webhooks/w:rotateSigningSecret", func(r *http.Request) (any, error) { return decodeRotation(r) }},
	"A replay": {"/v1/projects/acme/webhooks/w:replay", func(r *http.Request) (any, error) {
		start, end, err := decodeReplay(r)
		return [2]any{start, end}, err
	}},
	"A portal link": {"/v1/projects/acme:createPortalLink", func(r *http.Request) (any, error) {
		in, ttl, err := decodePortalLink(r)
		return [2]any{in, ttl}, err
	}},
	// ping (both surfaces) and a delivery's :retry take no parameters.
	"empty": {"/v1/projects/acme/webhooks/w:ping", func(r *http.Request) (any, error) { return nil, emptyBody(r) }},
}

// maskOfSettable passes on a decoded update whose mask names only settable fields, and fails
// one that names any other: the service would refuse it with an error of its own.
func maskOfSettable(set management.Settings, mask []management.Field, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	for _, f := range mask {
		if !slices.Contains(management.Settable, f) {
			return nil, errors.New("the mask names " + string(f) + ", which is not settable")
		}
	}
	return set, nil
}

// FuzzRequestBodies feeds every body (and update_mask) to the decoder of every method that
// reads one. Nothing may panic, and each answer is either a value the service can be given or
// an INVALID_ARGUMENT the caller gets as a 400 in the google.rpc shape: never a 500, which is
// what any other error turns into. A decoded webhook must decode the same from its own JSON.
// Seeds beyond these are in testdata/fuzz/FuzzRequestBodies.
func FuzzRequestBodies(f *testing.F) {
	f.Add([]byte(`{"url":"https://a.example.com/h","subscribed_events":["batch.succeeded"],"request_headers":[{"key":"X-Team","value":"data"}],"status_codes_to_retry_on":[429,503],"state":"DISABLED"}`), "")
	f.Add([]byte(`{"uri":"https://a.example.com/h","name":"My hook","subscribed_events":["video.generated"],"state":"enabled"}`), "state,name")
	f.Add([]byte(`{"revocation_behavior":"REVOKE_PREVIOUS_SECRETS_IMMEDIATELY"}`), "")
	f.Add([]byte(`{"start_time":"2026-11-27T00:00:00Z","end_time":"2026-11-28T00:00:00.5+01:00"}`), "")
	f.Add([]byte(`{"url":"https://a.example.com/h","signing_secrets":[{"truncated_secret":"whsec_abcd..."}]}`), "updateMask=*")
	f.Add([]byte(`{"webhooks":["w1","w2"],"read_only":true,"ttl":"86400.5s"}`), "")
	f.Fuzz(func(t *testing.T, body []byte, mask string) {
		for name, d := range decoders {
			target := d.path
			if mask != "" {
				target += "?" + url.Values{"update_mask": {mask}}.Encode()
			}
			r := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
			got, err := d.run(r)
			if err != nil {
				var own *management.Error
				if !errors.As(err, &own) || own.Code != management.InvalidArgument || own.Message == "" {
					t.Fatalf("%s: %v (%T) is not an INVALID_ARGUMENT with a message: the caller would get a 500", name, err, err)
				}
				rec := httptest.NewRecorder()
				WriteError(rec, management.AsError(err), renamerFor(r))
				var e errorBody
				if json.Unmarshal(rec.Body.Bytes(), &e) != nil || rec.Code != http.StatusBadRequest || e.Error.Code != 400 ||
					e.Error.Status != "INVALID_ARGUMENT" || e.Error.Message == "" {
					t.Fatalf("%s: the error answer is %d %s", name, rec.Code, rec.Body)
				}
				continue
			}
			if set, ok := got.(management.Settings); ok {
				checkSettingsRoundTrip(t, name, set)
			}
		}
	})
}

// checkSettingsRoundTrip requires that the settings, written as a Surface A body, decode to
// themselves: no value is read one way and stored another.
func checkSettingsRoundTrip(t *testing.T, name string, set management.Settings) {
	t.Helper()
	switch set.State {
	case "", webhook.Enabled, webhook.Disabled, webhook.DisabledDueToFailedDeliveries:
	default:
		t.Fatalf("%s: state decoded to %q", name, set.State)
	}
	b, err := json.Marshal(resourceWebhookIn{
		URL: set.URL, DisplayName: set.DisplayName, SubscribedEvents: set.SubscribedEvents, State: string(set.State),
		RequestHeaders: set.RequestHeaders, StatusCodesToRetryOn: set.StatusCodesToRetryOn, PropagateTrace: set.PropagateTrace,
	})
	if err != nil {
		t.Fatal(err)
	}
	var in resourceWebhookIn
	if _, err := decodeObject(b, &in, false); err != nil {
		t.Fatalf("%s: the decoded settings do not decode again: %v\n%s", name, err, b)
	}
	again, err := in.settings()
	if err != nil || !reflect.DeepEqual(again, set) {
		t.Fatalf("%s: round trip changed the settings (%v):\n first %+v\n again %+v", name, err, set, again)
	}
}
