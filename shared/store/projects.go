package store

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// portalLinkGeneration is the field of projects/{project} that counts the project's portal-link
// revocations (shared/restapi/README.md, Portal links). A project that never revoked any has
// no document: generation 0.
const portalLinkGeneration = "portal_link_generation"

// PortalLinkGeneration is the project's portal-link generation: links issued at an earlier one
// are revoked.
func (s *Store) PortalLinkGeneration(ctx context.Context, project string) (int64, error) {
	snap, err := s.project(project).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: read portal-link generation: %w", err)
	}
	return generationOf(snap)
}

// BumpPortalLinkGeneration raises the project's portal-link generation by one and returns it.
func (s *Store) BumpPortalLinkGeneration(ctx context.Context, project string) (int64, error) {
	var gen int64
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		ref := s.project(project)
		snap, err := tx.Get(ref)
		gen = 0
		switch {
		case status.Code(err) == codes.NotFound:
		case err != nil:
			return err
		default:
			if gen, err = generationOf(snap); err != nil {
				return err
			}
		}
		gen++
		return tx.Set(ref, map[string]any{portalLinkGeneration: gen}, firestore.MergeAll)
	})
	if err != nil {
		return 0, fmt.Errorf("store: raise portal-link generation: %w", err)
	}
	return gen, nil
}

func generationOf(snap *firestore.DocumentSnapshot) (int64, error) {
	v, err := snap.DataAt(portalLinkGeneration)
	var missing *firestore.FieldNotFoundError
	if errors.As(err, &missing) || (err == nil && v == nil) {
		return 0, nil // the document holds other fields only
	}
	if err != nil {
		return 0, fmt.Errorf("store: portal-link generation: %w", err)
	}
	gen, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("store: portal-link generation is a %T, not an integer", v)
	}
	return gen, nil
}
