package restapi

import (
	"strings"
	"testing"
)

// An unknown member is named with the fields a request may set, the nearest of them when it
// looks like a typo, and the output-only fields apart: they are accepted and ignored (AIP-203),
// so listing them as known would suggest that sending them does something.
func TestDecodeObject_AnUnknownFieldListsTheSettableFieldsAndSuggestsTheNearest(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		in      any
		want    []string
		notKnow []string
	}{
		{"uri on surface A", `{"uri":"https://a.example.com/h"}`, &resourceWebhookIn{},
			[]string{`unknown field "uri"`, `did you mean "url"?`, "known fields: url, display_name", "AIP-203"},
			[]string{"name", "create_time", "failing_since", "signing_secrets"}},
		{"url on surface B", `{"url":"https://a.example.com/h"}`, &geminiWebhookIn{},
			[]string{`unknown field "url"`, `did you mean "uri"?`, "known fields: name, uri, subscribed_events", "AIP-203"},
			[]string{"id", "create_time", "signing_secrets"}},
		{"a plural dropped", `{"subscribed_event":["batch.succeeded"]}`, &resourceWebhookIn{},
			[]string{`did you mean "subscribed_events"?`}, nil},
		{"nothing near", `{"colour":"blue"}`, &resourceWebhookIn{},
			[]string{`unknown field "colour"`, "known fields: url"}, []string{"did you mean"}},
	}
	for _, tc := range cases {
		_, err := decodeObject([]byte(tc.body), tc.in, false)
		if err == nil {
			t.Fatalf("%s: accepted", tc.name)
		}
		msg := err.Error()
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: %q does not say %q", tc.name, msg, w)
			}
		}
		_, after, _ := strings.Cut(msg, "known fields: ")
		known, _, _ := strings.Cut(after, ";")
		for _, n := range tc.notKnow {
			if n == "did you mean" && strings.Contains(msg, n) {
				t.Errorf("%s: %q suggests a field though none is near", tc.name, msg)
			}
			for _, k := range strings.Split(known, ", ") {
				if k == n {
					t.Errorf("%s: %q lists %q among the fields a request sets", tc.name, msg, n)
				}
			}
		}
	}
}
