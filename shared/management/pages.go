package management

import (
	"encoding/base64"
	"encoding/json"
	"time"
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
// list is refused, so it can never be used to step outside the caller's project.
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
	if t.Kind != want.Kind || t.Project != want.Project || t.Webhook != want.Webhook || t.State != want.State {
		return pageToken{}, bad
	}
	return t, nil
}
