package apikeys

import (
	"strings"
	"testing"
)

func TestHash_IsHexSHA256OfTheKey(t *testing.T) {
	// printf jh_test | sha256sum
	if got := Hash("jh_test"); got != "443084cfeb94e6b9165d7f552ff6918683bf64b914ea1e8254ecc6b6429d5acc" {
		t.Fatalf("Hash = %q", got)
	}
	if Hash("a") == Hash("b") || strings.ToLower(Hash("a")) != Hash("a") {
		t.Error("Hash is not a lower-case digest")
	}
}

func TestWellFormed_OnlyKeysOfTheIssuedShapeReachTheStore(t *testing.T) {
	good := Prefix + strings.Repeat("A", 43)
	for key, want := range map[string]bool{
		good:                                    true,
		Prefix + strings.Repeat("-_", 21) + "A": true,
		"":                                      false,
		strings.Repeat("A", 46):                 false,
		Prefix + strings.Repeat("A", 42):        false,
		Prefix + strings.Repeat("A", 44):        false,
		Prefix + strings.Repeat("+", 43):        false, // standard, not URL, base64
		Prefix + strings.Repeat("A", 42) + "B":  false, // non-zero padding bits: not a canonical encoding
		"JH_" + strings.Repeat("A", 43):         false,
	} {
		if wellFormed(key) != want {
			t.Errorf("wellFormed(%q) = %v", key, !want)
		}
	}
}
