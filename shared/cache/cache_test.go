package cache

import (
	"errors"
	"sync"
	"sync/atomic"
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

// Concurrent misses of one key load once and share the result.
func TestTTL_ConcurrentMissesLoadOnce(t *testing.T) {
	c := New[string, int](time.Minute, nil)
	var loads atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	got := make([]int, 50)
	for i := range got {
		wg.Go(func() {
			got[i], _ = c.Get("k", func() (int, error) {
				loads.Add(1)
				<-release
				return 42, nil
			})
		})
	}
	time.Sleep(50 * time.Millisecond) // every caller has missed
	close(release)
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Errorf("50 concurrent misses loaded %d times, want once", n)
	}
	for i, v := range got {
		if v != 42 {
			t.Fatalf("caller %d got %d", i, v)
		}
	}
}

// A key forgotten while it loads is loaded again by the next caller, and the older load,
// which may predate the change that made its caller forget, is not cached.
func TestTTL_AKeyForgottenDuringALoadIsLoadedAfresh(t *testing.T) {
	c := New[string, int](time.Minute, nil)
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan int)
	go func() {
		v, _ := c.Get("k", func() (int, error) { close(started); <-release; return 1, nil })
		done <- v
	}()
	<-started
	c.Forget("k")
	if v, _ := c.Get("k", func() (int, error) { return 2, nil }); v != 2 {
		t.Errorf("after Forget during a load: got %d, want a fresh load (2)", v)
	}
	close(release)
	if v := <-done; v != 1 {
		t.Errorf("the first caller got %d, want its own load (1)", v)
	}
	if v, _ := c.Get("k", func() (int, error) { return 3, nil }); v != 2 {
		t.Errorf("cached %d after both loads; want the fresh one (2), not the older load", v)
	}
}
