package management

import (
	"context"
	"slices"

	"github.com/jobhooks/jobhooks/shared/store"
)

// DeadLetterKinds are the kinds a dead-letter list may be filtered by (shared/deadletter).
var DeadLetterKinds = []string{"job_event", "delivery", "request"}

// DeadLetterName is a dead letter's resource name, projects/{p}/deadLetters/{id}.
func DeadLetterName(project, id string) string { return "projects/" + project + "/deadLetters/" + id }

// ListDeadLetters returns a page of the project's dead letters, newest first, optionally of one
// kind, and the token of the next page. A poison event whose project could not be read belongs
// to no project: it is in no list, only in the DeadLetter function's log
// (shared/restapi/README.md, Dead letters).
func (s *Service) ListDeadLetters(ctx context.Context, project, kind string, page PageRequest) ([]store.DeadLetter, string, error) {
	if kind != "" && !slices.Contains(DeadLetterKinds, kind) {
		return nil, "", invalid("kind", "%q is not a kind of dead letter (job_event, delivery)", truncate(kind))
	}
	size, err := page.size()
	if err != nil {
		return nil, "", err
	}
	want := pageToken{Kind: "deadLetters", Project: project, State: kind}
	tok, err := decodeToken(page.Token, want)
	if err != nil {
		return nil, "", err
	}
	dls, err := s.Store.ListDeadLetters(ctx, project, kind, size+1, store.DeadLetterCursor{Time: tok.Time, ID: tok.ID})
	if err != nil {
		return nil, "", err
	}
	if len(dls) <= size {
		return dls, "", nil
	}
	dls = dls[:size]
	last := dls[size-1]
	want.Time, want.ID = last.Time, last.ID
	return dls, want.encode(), nil
}
