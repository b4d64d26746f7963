// Package store keeps Jobhooks' state in Firestore: webhooks, event records, delivery records
// with their attempts, and dead letters.
//
// Every path and query is scoped by project (projects/{project}/...), so one tenant's data is
// never read through another's path. Dead letters are the exception: a poison event may have no
// valid project, so they live in a top-level collection, and ListDeadLetters filters it by
// project (one without a project is listed by none).
//
// Hot paths write only to documents of their own delivery or event; no shared document is written
// per delivery (Firestore sustains about one write per second on a single document).
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrNotFound and ErrAlreadyExists are returned for a missing or duplicate document;
// ErrConflict for a conditional write of a record that changed since it was read.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	ErrConflict      = errors.New("the record changed since it was read")
)

// Store is the Firestore store. It is safe for concurrent use.
type Store struct {
	fs *firestore.Client
	// recordTTL sets expire_time on event, delivery, attempt and dead-letter records; Firestore's
	// TTL policy (Terraform) deletes them after it.
	recordTTL time.Duration
}

// New wraps a Firestore client. recordTTL is how long records are kept.
func New(fs *firestore.Client, recordTTL time.Duration) *Store {
	return &Store{fs: fs, recordTTL: recordTTL}
}

// Open connects to the database of googleProject (the emulator when FIRESTORE_EMULATOR_HOST is set).
func Open(ctx context.Context, googleProject, database string, recordTTL time.Duration) (*Store, error) {
	fs, err := firestore.NewClientWithDatabase(ctx, googleProject, database)
	if err != nil {
		return nil, fmt.Errorf("store: firestore client: %w", err)
	}
	return New(fs, recordTTL), nil
}

// Close releases the client.
func (s *Store) Close() error { return s.fs.Close() }

// Client exposes the Firestore client to packages that own other collections.
func (s *Store) Client() *firestore.Client { return s.fs }

func (s *Store) project(p string) *firestore.DocumentRef { return s.fs.Collection("projects").Doc(p) }

func (s *Store) expiry(from time.Time) time.Time { return from.Add(s.recordTTL) }

// notFound translates Firestore's NotFound into ErrNotFound, wrapped with what was looked for.
func notFound(err error, what string) error {
	if status.Code(err) == codes.NotFound {
		return fmt.Errorf("store: %s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("store: %s: %w", what, err)
}
