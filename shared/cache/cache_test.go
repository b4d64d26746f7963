package cache

import (
	"errors"
	"testing"
	"time"
)

func TestTTL_ReloadsAfterTheTTLAndNotBefore(t *testing.T) {
	now := time.Unix(0, 0)
	c := New[string, int](30*time.Second, func() time.Time { return now })
	loads := 0
	load := func() (int, error) { loads++; return loads, nil }

	if v, _ := c.Get("k", load); v != 1 {
		t.Fatalf("first get = %d", v)
	}
	now = now.Add(29 * time.Second)
	if v, _ := c.Get("k", load); v != 1 {
		t.Errorf("within ttl: got %d, want cached 1", v)
	}
	now = now.Add(time.Second)
	if v, _ := c.Get("k", load); v != 2 {
		t.Errorf("at ttl: got %d, want reload 2", v)
	}
	c.Forget("k")
	if v, _ := c.Get("k", load); v != 3 {
		t.Errorf("after Forget: got %d, want reload 3", v)
	}
}

func TestTTL_DoesNotCacheErrors(t *testing.T) {
	c := New[string, int](time.Minute, nil)
	boom := errors.New("boom")
	if _, err := c.Get("k", func() (int, error) { return 0, boom }); err != boom {
		t.Fatalf("err = %v", err)
	}
	if v, err := c.Get("k", func() (int, error) { return 7, nil }); err != nil || v != 7 {
		t.Errorf("got %d, %v; want a fresh load", v, err)
	}
}
