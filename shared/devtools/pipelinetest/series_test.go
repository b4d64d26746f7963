package pipelinetest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/event"
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
