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

func TestTTL_ACopyReadEarlierExpiresTTLAfterItsRead(t *testing.T) {
	now := time.Unix(100, 0)
	c := New[string, int](30*time.Second, func() time.Time { return now })
	read := now.Add(-25 * time.Second) // taken from another cache, 25 s old
	loads := 0
	load := func() (int, time.Time, error) { loads++; return loads, read, nil }
	if v, _ := c.GetRead("k", load); v != 1 {
		t.Fatalf("first get = %d", v)
	}
	now = now.Add(4 * time.Second)
	if v, _ := c.GetRead("k", load); v != 1 {
		t.Errorf("29 s after the read: got %d, want cached 1", v)
	}
	now = now.Add(time.Second)
	read = now
	if v, _ := c.GetRead("k", load); v != 2 {
		t.Errorf("30 s after the read: got %d, want a reload, not 30 s from the load", v)
	}
}
