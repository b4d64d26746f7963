package store

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// APIKey is the stored form of an API key: only its SHA-256 hash (the document id) is kept, never
// the key. Like dead letters, keys live in a top-level collection (apikeys/{hash}): a request
// names no project until its key is looked up.
type APIKey struct {
	// Hash is the lower-case hex SHA-256 of the key, also the document id.
	Hash       string    `firestore:"hash"`
	Project    string    `firestore:"project"`
	CreateTime time.Time `firestore:"create_time"`
}

func (s *Store) apiKeys() *firestore.CollectionRef { return s.fs.Collection("apikeys") }

// CreateAPIKey stores a new key hash; ErrAlreadyExists if the hash is already stored.
func (s *Store) CreateAPIKey(ctx context.Context, k APIKey) error {
	_, err := s.apiKeys().Doc(k.Hash).Create(ctx, k)
	if status.Code(err) == codes.AlreadyExists {
		return fmt.Errorf("store: api key: %w", ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("store: create api key: %w", err)
	}
	return nil
}

// GetAPIKey reads the key whose hash is hash; ErrNotFound if there is none. Errors never repeat
// the hash: it is not the key, but nothing about a key belongs in a log line.
func (s *Store) GetAPIKey(ctx context.Context, hash string) (APIKey, error) {
	var k APIKey
	snap, err := s.apiKeys().Doc(hash).Get(ctx)
	if err != nil {
		return k, notFound(err, "api key")
	}
	if err := snap.DataTo(&k); err != nil {
		return k, fmt.Errorf("store: decode api key: %w", err)
	}
	return k, nil
}

// DeleteAPIKey removes the key whose hash is hash; ErrNotFound if there is none.
func (s *Store) DeleteAPIKey(ctx context.Context, hash string) error {
	if _, err := s.apiKeys().Doc(hash).Delete(ctx, firestore.Exists); err != nil {
		return notFound(err, "delete api key")
	}
	return nil
}
