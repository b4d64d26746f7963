package storm

import (
	"math/rand/v2"
	"strings"
)

// Hostile reply bodies. Deliver keeps the first 4 KiB of what an endpoint answers and stores
// it with the attempt; Firestore refuses a string that is not valid UTF-8, so a body stored as
// it came would make its own record unwritable, and the delivery would be POSTed again and
// again and never recorded. Whatever an endpoint answers must be recordable; each kind below is
// invalid UTF-8 in what Deliver keeps.

// excerptLimit is the cut the sender makes: it keeps this many bytes of a response body.
const excerptLimit = 4096

type hostileBody struct {
	contentType string
	data        []byte
}

// hostile picks one of the three kinds at random.
func hostile(rng *rand.Rand) hostileBody {
	switch rng.IntN(3) {
	case 0:
		return binaryBody(rng)
	case 1:
		return latin1Body(rng)
	}
	return cutBody(rng)
}

// binaryBody is random bytes with a NUL and a 0xFF among them (0xFF is never UTF-8).
func binaryBody(rng *rand.Rand) hostileBody {
	b := make([]byte, 16+rng.IntN(500))
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
	b[rng.IntN(len(b))] = 0x00
	b[rng.IntN(len(b))] = 0xFF
	return hostileBody{"application/octet-stream", b}
}

// latin1Messages are error texts a server in a Latin-1 locale sends: Ü, ö and ß are single
// bytes above 0x7F there, which UTF-8 reads as broken sequences.
var latin1Messages = []string{"Fehler: Übergröße", "Größe überschritten; später erneut versuchen", "Erreur: délai dépassé"}

func latin1Body(rng *rand.Rand) hostileBody {
	msg := latin1Messages[rng.IntN(len(latin1Messages))]
	b := make([]byte, 0, len(msg))
	for _, r := range msg {
		b = append(b, byte(r)) // every rune of these texts is below U+0100: its Latin-1 byte
	}
	return hostileBody{"text/plain; charset=iso-8859-1", b}
}

// wide are characters of 2, 3 and 4 bytes in UTF-8.
var wide = []string{"ü", "€", "😀"}

// cutBody is valid UTF-8 longer than 4 KiB, with a multi-byte character across byte 4,096: the
// first 4 KiB end inside it.
func cutBody(rng *rand.Rand) hostileBody {
	c := wide[rng.IntN(len(wide))]
	// The character starts 1 to len(c)-1 bytes before the cut.
	start := excerptLimit - 1 - rng.IntN(len(c)-1)
	var b strings.Builder
	b.WriteString("Fehler: Übergröße — ")
	for b.Len() < start {
		b.WriteByte('.')
	}
	b.WriteString(c)
	b.WriteString(strings.Repeat(" Übergröße", 10+rng.IntN(100)))
	return hostileBody{"text/plain; charset=utf-8", []byte(b.String())}
}
