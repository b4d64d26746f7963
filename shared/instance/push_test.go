package instance

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/logging"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
)

// The entry point of a push function, through HTTP as Pub/Sub calls it: no emulator is needed,
// the builder and the handler are the test's.

func envelope(data string) string {
	return `{"message":{"data":"` + base64.StdEncoding.EncodeToString([]byte(data)) + `","messageId":"1"},"subscription":"s"}`
}

func push(t *testing.T, h http.Handler, body string) int {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func testInstance() (*Instance, error) {
	cfg := config.Defaults()
	cfg.GoogleProject = "demo"
	return New(cfg, logging.New(io.Discard, nil)), nil
}

func TestPushFunction_AMisconfiguredFunctionNacksEveryPush(t *testing.T) {
	var built atomic.Int32
	h := PushFunction(func() (*Instance, error) { return nil, errors.New("config: GOOGLE_CLOUD_PROJECT is not set") },
		func(context.Context, *Instance) (pushmsg.HandlerFunc, error) { built.Add(1); return nil, nil })
	if code := push(t, h, envelope("x")); code != http.StatusInternalServerError {
		t.Errorf("status %d, want 500: Pub/Sub must redeliver until the configuration is fixed", code)
	}
	if built.Load() != 0 {
		t.Error("the handler was built from a configuration that failed to load")
	}
}

func TestPushFunction_AFailedBuildNacksAndIsRetriedOnTheNextPush(t *testing.T) {
	var builds atomic.Int32
	var handled []string
	h := PushFunction(testInstance, func(context.Context, *Instance) (pushmsg.HandlerFunc, error) {
		if builds.Add(1) == 1 {
			return nil, errors.New("firestore: connection refused")
		}
		return func(_ context.Context, m pushmsg.Message) error {
			handled = append(handled, string(m.Data))
			if string(m.Data) == "later" {
				return pushmsg.Retry(errors.New("not yet"))
			}
			return nil
		}, nil
	})
	if code := push(t, h, envelope("first")); code != http.StatusInternalServerError {
		t.Errorf("push while the build fails: status %d, want 500 (nack)", code)
	}
	if code := push(t, h, envelope("second")); code != http.StatusNoContent {
		t.Errorf("push after a good build: status %d, want 204 (ack, never 202)", code)
	}
	if code := push(t, h, envelope("later")); code != http.StatusServiceUnavailable {
		t.Errorf("a Retry result: status %d, want 503 (nack)", code)
	}
	if builds.Load() != 2 || strings.Join(handled, ",") != "second,later" {
		t.Errorf("%d builds, handled %v; want 2 builds (the failed one retried once, the good one kept) and [second later]", builds.Load(), handled)
	}
}

func TestPushFunction_WhatIsNotAPushEnvelopeGets400WithoutABuild(t *testing.T) {
	var builds atomic.Int32
	h := PushFunction(testInstance, func(context.Context, *Instance) (pushmsg.HandlerFunc, error) {
		builds.Add(1)
		return func(context.Context, pushmsg.Message) error { return nil }, nil
	})
	for _, body := range []string{`not json`, `{"subscription":"s"}`, `{"message":{"data":"!!"}}`} {
		if code := push(t, h, body); code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", body, code)
		}
	}
	if builds.Load() != 0 {
		t.Errorf("%d builds for requests that were not push envelopes, want 0", builds.Load())
	}
}

func TestPushFunction_PushesArrivingTogetherBeforeTheFirstBuildShareOneBuild(t *testing.T) {
	var builds atomic.Int32
	release := make(chan struct{})
	h := PushFunction(testInstance, func(context.Context, *Instance) (pushmsg.HandlerFunc, error) {
		builds.Add(1)
		<-release // every push is waiting for the handler while this build runs
		return func(context.Context, pushmsg.Message) error { return nil }, nil
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	const pushes = 8
	codes := make(chan int, pushes)
	for range pushes {
		go func() {
			resp, err := http.Post(srv.URL, "application/json", strings.NewReader(envelope("x")))
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	for builds.Load() == 0 {
		runtime.Gosched()
	}
	time.Sleep(50 * time.Millisecond) // the other pushes arrive while the build is still running
	close(release)
	for range pushes {
		if code := <-codes; code != http.StatusNoContent {
			t.Errorf("status %d, want 204", code)
		}
	}
	if n := builds.Load(); n != 1 {
		t.Errorf("%d builds for %d pushes at once, want 1: the clients are the instance's, made once", n, pushes)
	}
}
