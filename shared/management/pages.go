package management

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// Page sizes of AIP-158.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// PageRequest is a list call's page_size and page_token.
type PageRequest struct {
	// Size is the most items wanted: 0 means DefaultPageSize, above MaxPageSize means MaxPageSize
	// (AIP-158 coerces rather than refuses), negative is refused.
	Size  int
	Token string
}

func (p PageRequest) size() (int, error) {
	switch {
	case p.Size < 0:
		return 0, invalid("page_size", "must not be negative")
	case p.Size == 0:
		return DefaultPageSize, nil
	case p.Size > MaxPageSize:
		return MaxPageSize, nil
	}
	return p.Size, nil
}

// pageToken is what a page token holds. Tokens are opaque to callers (base64url of this JSON) and
// are bound to the list they came from: a token of another project, webhook, filter or kind of
// list is refused, so it can never be used to step outside the caller's project. They are not
// signed, so what they hold is input: the id names a Firestore document, and one the list
// never hands out ("a/b", "..", "__x__") is refused before it reaches a store path.
type pageToken struct {
	Kind    string    `json:"k"`
	Project string    `json:"p"`
	Webhook string    `json:"w,omitempty"`
	State   string    `json:"s,omitempty"`
	Time    time.Time `json:"t,omitzero"`
	ID      string    `json:"i"`
}

func (t pageToken) encode() string {
	b, _ := json.Marshal(t) // strings and a time: always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeToken reads raw and checks it belongs to the list described by want (Kind, Project,
// Webhook, State). An empty raw gives the zero token: the first page.
func decodeToken(raw string, want pageToken) (pageToken, error) {
	if raw == "" {
		return pageToken{}, nil
	}
	bad := invalid("page_token", "is not a token returned by this list (with the same parameters)")
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return pageToken{}, bad
	}
	var t pageToken
	if err := json.Unmarshal(b, &t); err != nil || t.ID == "" {
		return pageToken{}, bad
	}
	if t.Kind != want.Kind || t.Project != want.Project || t.Webhook != want.Webhook || t.State != want.State || !validTokenID(t.Kind, t.ID) {
		return pageToken{}, bad
	}
	return t, nil
}

// tokenIDs check the id of each kind of list that has its own id format.
var tokenIDs = map[string]func(string) bool{
	"webhooks":   webhook.ValidID,
	"deliveries": event.ValidDeliveryID,
}

// validTokenID reports whether id may be the id of a page token of kind: the kind's own format
// when it has one, and for any kind a Firestore document id (no "/", not "." or "..", not
// __reserved__, at most 1,500 bytes of UTF-8), so that no token makes a store call fail.
func validTokenID(kind, id string) bool {
	if valid, ok := tokenIDs[kind]; ok && !valid(id) {
		return false
	}
	return id != "" && len(id) <= 1500 && utf8.ValidString(id) && !strings.Contains(id, "/") &&
		id != "." && id != ".." && !(strings.HasPrefix(id, "__") && strings.HasSuffix(id, "__"))
}
