package pipelinetest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/management"
	"github.com/jobhooks/jobhooks/shared/sender"
	"github.com/jobhooks/jobhooks/shared/store"
)

// A manual retry claims its attempt series in the record before its task is published: a second
// :retry made before the first series is finished is refused, so one series never has two tasks
// that could POST at the same moment.
func TestAPI_TwoQuickRetriesOfOneDeliveryMakeOneAttemptSeries(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	rcv := NewReceiver(t, OK, Status(404))
	api := newManage(t, s, "acme")
	api.create("wh", rcv.URL)
	s.Publish(t, jobEvent("acme", "job-1", "batch.succeeded"), nil)
	waitState(t, s, "acme", "job-1", "wh", store.Failed)

	retry := api.webhooks + "/wh/deliveries/" + event.DeliveryID("acme", "job-1", "webhook:wh") + ":retry"
	if code, body := api.do(http.MethodPost, retry, ""); code != http.StatusOK {
		t.Fatalf("the first retry: %d %s", code, body)
	}
	code, body := api.do(http.MethodPost, retry, "")
	if code != http.StatusBadRequest || !strings.Contains(body, "FAILED_PRECONDITION") {
		t.Errorf("a second retry while the first series runs: %d %s, want 400 FAILED_PRECONDITION", code, body)
	}
	d := waitState(t, s, "acme", "job-1", "wh", store.Delivered)
	time.Sleep(2 * time.Second) // a second task of the series would POST within this
	if rcv.Count() != 2 || d.Series != 1 {
		t.Errorf("the endpoint got %d POSTs and the record is in series %d, want 2 (the 404, one retry) in series 1", rcv.Count(), d.Series)
	}
}

// The commit of a retry's series claim is carried out but answered an error: Unavailable, which
// the client library retries into a failed precondition (the record changed: by the claim
// itself), or DeadlineExceeded, which it returns. The claim is the call's own: its task must be
// published, or the record stays pending in a series with no task, and a pending delivery can
// never be retried again.
func TestAPI_ARetrysSeriesClaimWrittenButAnsweredAnErrorStillSendsIt(t *testing.T) {
	t.Parallel()
	for _, code := range []codes.Code{codes.Unavailable, codes.DeadlineExceeded} {
		t.Run(code.String(), func(t *testing.T) {
			t.Parallel()
			s := Start(t, Options{})
			rcv := NewReceiver(t, OK, Status(404))
			s.AddWebhook(t, hook("acme", "wh", rcv.URL))
			s.Publish(t, jobEvent("acme", "job-1", "batch.succeeded"), nil)
			waitState(t, s, "acme", "job-1", "wh", store.Failed)

			proc := newProcess(t, s, nil)
			proc.inject(fault{method: methodCommit, match: writeOf("/deliveries/", "series"), when: after, code: code, times: 1})
			api := management.New(s.Config, management.Deps{Store: proc.store, Keyring: s.Keyring, Publisher: proc.publisher,
				URLs: sender.New(sender.Options{AllowInsecureTargets: true}), Log: proc.logger(), Now: proc.now})
			err := api.RetryDelivery(context.Background(), "acme", "wh", event.DeliveryID("acme", "job-1", "webhook:wh"))
			if err != nil {
				t.Errorf("the retry: %v; want it sent, its series claim being its own", err)
			}
			d := waitState(t, s, "acme", "job-1", "wh", store.Delivered)
			if d.Series != 1 || rcv.Count() != 2 {
				t.Errorf("record in series %d after %d POSTs, want series 1 after 2", d.Series, rcv.Count())
			}
		})
	}
}
