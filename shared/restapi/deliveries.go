package restapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/shared/management"
	"github.com/jobhooks/jobhooks/shared/store"
)

// Surface A's delivery history: /v1/projects/{p}/webhooks/{w}/deliveries[/{d}[:retry]] and
// /v1/projects/{p}/webhooks/{w}:replay.

// deliveryStates are the delivery states by their lower-case spelling.
var deliveryStates = func() map[string]store.DeliveryState {
	m := map[string]store.DeliveryState{}
	for _, s := range management.DeliveryStates {
		m[string(s)] = s
	}
	return m
}()

// delivery is a delivery record as Surface A shows it. message_id is the webhook-id header the
// endpoint received, the same on every attempt and every re-send.
type delivery struct {
	Name             string `json:"name"`
	EventID          string `json:"event_id"`
	EventType        string `json:"event_type"`
	MessageID        string `json:"message_id"`
	State            string `json:"state"`
	Reason           string `json:"reason,omitempty"`
	URL              string `json:"url,omitempty"`
	AttemptCount     int    `json:"attempt_count"`
	EventTime        string `json:"event_time,omitempty"`
	CreateTime       string `json:"create_time"`
	FirstAttemptTime string `json:"first_attempt_time,omitempty"`
	LastAttemptTime  string `json:"last_attempt_time,omitempty"`
	NextAttemptTime  string `json:"next_attempt_time,omitempty"`
	LastStatusCode   int    `json:"last_status_code,omitempty"`
	LastLatencyMS    int64  `json:"last_latency_ms,omitempty"`
	LastError        string `json:"last_error,omitempty"`
	// Waiting is what a pending delivery waits for without an attempt: THROTTLED (a free slot
	// under its endpoint's throttle) or PAUSED (its endpoint's Retry-After or open circuit).
	Waiting  string    `json:"waiting,omitempty"`
	Attempts []attempt `json:"attempts,omitzero"` // [] on GET of one, absent from a list
	// Request is what the attempts sent; only on GET of one.
	Request *sentRequest `json:"request,omitempty"`
}

// sentRequest is what a delivery's last attempt sent (its next one, before any attempt): the
// body, unless it has expired, and the headers, a webhook's own header values and the signature
// redacted (management.Sent).
type sentRequest struct {
	Body        string       `json:"body,omitempty"`
	BodyExpired bool         `json:"body_expired,omitempty"`
	Headers     []sentHeader `json:"headers"`
}

type sentHeader struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Redacted bool   `json:"redacted,omitempty"`
}

func toSentRequest(s management.Sent) *sentRequest {
	out := &sentRequest{Body: strings.ToValidUTF8(string(s.Body), "\uFFFD"), BodyExpired: s.BodyExpired, Headers: []sentHeader{}}
	for _, h := range s.Headers {
		out.Headers = append(out.Headers, sentHeader{Name: h.Name, Value: h.Value, Redacted: h.Redacted})
	}
	return out
}

// attempt is one POST. series counts the attempt series: 0 for the original, one more for each
// retry or replay.
type attempt struct {
	Number       int    `json:"number"`
	Series       int    `json:"series"`
	Time         string `json:"time"`
	URL          string `json:"url,omitempty"`
	StatusCode   int    `json:"status_code,omitempty"`
	LatencyMS    int64  `json:"latency_ms"`
	Outcome      string `json:"outcome"`
	Error        string `json:"error,omitempty"`
	ResponseBody string `json:"response_body,omitempty"`
}

func toDelivery(project string, d store.Delivery) delivery {
	return delivery{
		Name: management.DeliveryName(project, d.Webhook, d.ID), EventID: d.EventID, EventType: d.EventType,
		MessageID: d.MessageID, State: strings.ToUpper(string(d.State)), Reason: d.Reason, URL: d.URL,
		AttemptCount: d.Attempts, EventTime: ts(d.EventTime), CreateTime: ts(d.CreateTime),
		FirstAttemptTime: ts(d.FirstAttemptTime), LastAttemptTime: ts(d.LastAttemptTime),
		NextAttemptTime: ts(d.NextNotBefore), LastStatusCode: d.LastStatusCode,
		LastLatencyMS: d.LastLatencyMS, LastError: d.LastError, Waiting: waiting(d),
	}
}

// waiting is what d waits for, while it is pending: a final record may keep the word of its
// last wait (one that ended exhausted, throttled), which its reason already says.
func waiting(d store.Delivery) string {
	if d.State != store.Pending {
		return ""
	}
	return strings.ToUpper(d.Waiting)
}

func toAttempt(a store.Attempt) attempt {
	return attempt{
		Number: a.Number, Series: a.Series, Time: ts(a.Time), URL: a.URL, StatusCode: a.StatusCode,
		LatencyMS: a.LatencyMS, Outcome: strings.ToUpper(a.Outcome), Error: a.Error, ResponseBody: a.ResponseBody,
	}
}

func (h *Handler) getDelivery(ctx context.Context, r *http.Request, project string) (any, error) {
	v, err := h.Service.GetDelivery(ctx, project, r.PathValue("webhook"), r.PathValue("delivery"))
	if err != nil {
		return nil, err
	}
	out := toDelivery(project, v.Record)
	out.Attempts = []attempt{}
	for _, a := range v.Attempts {
		out.Attempts = append(out.Attempts, toAttempt(a))
	}
	out.Request = toSentRequest(v.Sent)
	return out, nil
}

func (h *Handler) retryDelivery(ctx context.Context, r *http.Request, project string) (any, error) {
	if err := emptyBody(r); err != nil {
		return nil, err
	}
	return struct{}{}, h.Service.RetryDelivery(ctx, project, r.PathValue("webhook"), r.PathValue("delivery"))
}

type deliveryList struct {
	Deliveries    []delivery `json:"deliveries"`
	NextPageToken string     `json:"next_page_token,omitempty"`
}

func (h *Handler) listDeliveries(ctx context.Context, r *http.Request, project string) (any, error) {
	state, err := enum("state", r.URL.Query().Get("state"), deliveryStates, true)
	if err != nil {
		return nil, err
	}
	size, err := pageSize(r)
	if err != nil {
		return nil, err
	}
	ds, next, err := h.Service.ListDeliveries(ctx, project, r.PathValue("webhook"), state, management.PageRequest{Size: size, Token: pageToken(r)})
	if err != nil {
		return nil, err
	}
	out := deliveryList{Deliveries: []delivery{}, NextPageToken: next}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, toDelivery(project, d))
	}
	return out, nil
}

type replayRequest struct {
	StartTime string `json:"start_time"`
	EndTime   string `json:"end_time"`
}

type replayResponse struct {
	// QueuedCount is how many deliveries were queued to be sent again.
	QueuedCount int `json:"queued_count"`
}

func (h *Handler) replay(ctx context.Context, r *http.Request, project string) (any, error) {
	start, end, err := decodeReplay(r)
	if err != nil {
		return nil, err
	}
	n, err := h.Service.Replay(ctx, project, r.PathValue("webhook"), start, end)
	if err != nil {
		return nil, err
	}
	return replayResponse{QueuedCount: n}, nil
}

// decodeReplay reads a replay request's window (an absent time is zero); the service decides
// whether it is one.
func decodeReplay(r *http.Request) (start, end time.Time, err error) {
	var in replayRequest
	if _, err := readObject(r, &in, false); err != nil {
		return time.Time{}, time.Time{}, err
	}
	if start, err = timestamp("start_time", in.StartTime); err != nil {
		return time.Time{}, time.Time{}, err
	}
	if end, err = timestamp("end_time", in.EndTime); err != nil {
		return time.Time{}, time.Time{}, err
	}
	return start, end, nil
}
