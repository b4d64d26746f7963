package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/webhook"
)

func TestCreateWebhookWithin_ConcurrentCreatesNeverOvershootTheLimit(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	var mu sync.Mutex
	outcomes := map[string]int{}
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.CreateWebhookWithin(ctx, webhook.Webhook{Project: "p", ID: fmt.Sprintf("w%d", i), CreateTime: time.Now()}, 3)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				outcomes["created"]++
			case errors.Is(err, ErrLimit):
				outcomes["limit"]++
			default:
				outcomes["other"]++
				t.Logf("create: %v", err)
			}
		}()
	}
	wg.Wait()
	all, err := s.ListWebhooks(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) > 3 || outcomes["created"] != len(all) {
		t.Errorf("outcomes %v, %d stored: the limit of 3 was overshot", outcomes, len(all))
	}
	if err := s.CreateWebhookWithin(ctx, webhook.Webhook{Project: "p", ID: all[0].ID}, 10); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("duplicate id: %v, want ErrAlreadyExists", err)
	}
}

func TestUpdateAndDeleteWebhook_AbortKeepAndMissing(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if err := s.CreateWebhook(ctx, webhook.Webhook{Project: "p", ID: "w", URL: "https://a.example", CreateTime: t0}); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("refused")
	if _, err := s.UpdateWebhook(ctx, "p", "w", func(w *webhook.Webhook) error { w.URL = "https://b.example"; return stop }); err != stop {
		t.Errorf("aborted update: %v, want the change's own error", err)
	}
	if w, _ := s.GetWebhook(ctx, "p", "w"); w.URL != "https://a.example" {
		t.Errorf("an aborted update was written: %q", w.URL)
	}
	w, err := s.UpdateWebhook(ctx, "p", "w", func(w *webhook.Webhook) error { w.DisplayName = "x"; return nil })
	if err != nil || w.DisplayName != "x" || w.URL != "https://a.example" {
		t.Errorf("update: %+v, %v", w, err)
	}
	if _, err := s.UpdateWebhook(ctx, "p", "missing", func(*webhook.Webhook) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of a missing webhook: %v", err)
	}
	if err := s.DeleteWebhook(ctx, "p", "w"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteWebhook(ctx, "p", "w"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
}

func TestListWebhooksPage_CreationOrderSurvivesDeletingThePagesLastWebhook(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	// Ids in the reverse of creation order, and two created at the same instant.
	for i, id := range []string{"e", "d", "c", "b", "a"} {
		at := t0.Add(time.Duration(min(i, 3)) * time.Minute)
		if err := s.CreateWebhook(ctx, webhook.Webhook{Project: "p", ID: id, CreateTime: at}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := s.ListWebhooksPage(ctx, "p", 2, WebhookCursor{})
	if err != nil {
		t.Fatal(err)
	}
	last := first[len(first)-1]
	s.DeleteWebhook(ctx, "p", last.ID)
	rest, err := s.ListWebhooksPage(ctx, "p", 10, WebhookCursor{CreateTime: last.CreateTime, ID: last.ID})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, w := range append(first, rest...) {
		ids = append(ids, w.ID)
	}
	if fmt.Sprint(ids) != "[e d c a b]" {
		t.Errorf("pages hold %v, want [e d c a b] (creation order, ties by id)", ids)
	}
}
