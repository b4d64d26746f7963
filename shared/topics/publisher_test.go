package topics

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Pub/Sub refuses a publish whose attribute value exceeds 1,024 bytes (the emulator does not):
// values are cut on a character boundary before they are sent.
func TestClamp_CutsAttributeValuesToPubSubsLimitOnACharacterBoundary(t *testing.T) {
	long := strings.Repeat("a", MaxAttributeValue-1) + "é" + strings.Repeat("b", 500)
	attrs := clamp(map[string]string{"reason": long, "kind": "job_event"})
	if got := attrs["reason"]; len(got) > MaxAttributeValue || !utf8.ValidString(got) || len(got) != MaxAttributeValue-1 {
		t.Errorf("clamped to %d bytes (valid UTF-8: %v), want %d: the cut falls inside é", len(got), utf8.ValidString(got), MaxAttributeValue-1)
	}
	if attrs["kind"] != "job_event" {
		t.Errorf("a short value changed: %q", attrs["kind"])
	}
}
