// Package topics names the three Pub/Sub topics of Jobhooks and the push subscriptions that feed
// the functions, with the settings Terraform deploys. The local stack and the tests create the
// same topology from these values, and a test keeps terraform/ equal to them.
package topics

import "time"

// Subscription is one push subscription: a topic pushed to one function.
type Subscription struct {
	// Name is the subscription id (Terraform appends nothing; the name prefix is a Terraform variable).
	Name string
	// Topic is the topic id it reads.
	Topic string
	// Function is the FUNCTION_TARGET it pushes to.
	Function string
	// AckDeadline stays above the function's timeout so Pub/Sub never redelivers a message that is
	// still being handled.
	AckDeadline time.Duration
	// MinBackoff and MaxBackoff are the retry policy: shared/delivery/README.md, Guarantees:
	// retries with backoff 10 s → 600 s.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// Retention is how long an unacked message is kept.
	Retention time.Duration
	// MaxDeliveryAttempts is the dead-letter policy's limit; 0 means no dead-letter policy.
	MaxDeliveryAttempts int
	// DeadLetterTopic receives what exceeds MaxDeliveryAttempts.
	DeadLetterTopic string
}

// Topic ids: the only place they are spelt (config.Defaults and jobevents.Topic use these;
// config.Config carries the deployed names, which Terraform may prefix).
const (
	JobEvents  = "job-events"
	Deliveries = "webhook-deliveries"
	DeadLetter = "webhook-dead-letter"
	// Requests carries what the management API asks for (a ping, a delivery sent again): the
	// one topic the API may publish to (shared/request).
	Requests = "webhook-requests"
	// Waiting carries the delivery tasks whose endpoint holds them back (no free slot, a
	// Retry-After, an open circuit): their nacks slow only its own subscription, never the
	// retries of endpoints that answer (shared/delivery/README.md, Isolation).
	Waiting = "webhook-waiting"
)

// RequestsSubscription is the subscription of Requests. Dispatch treats a push as a request
// only when it comes from a subscription whose id ends in this name, and every other push as
// a job event: which one a message is comes from Pub/Sub, never from the message.
const RequestsSubscription = "webhook-requests-dispatch"

// WaitingSubscription is the subscription of Waiting. Deliver tells a push from it by the
// subscription's id, which ends in this name.
const WaitingSubscription = "webhook-waiting-deliver"

// FunctionTimeout is the deployed timeout of Dispatch, Deliver and DeadLetter. The attempt
// timeout (15 s) fits well inside it, and every ack deadline is above it.
const FunctionTimeout = 60 * time.Second

// Subscriptions are the five push subscriptions, in flow order.
func Subscriptions() []Subscription {
	return []Subscription{
		{
			Name: "job-events-dispatch", Topic: JobEvents, Function: "Dispatch",
			AckDeadline: 90 * time.Second, MinBackoff: 10 * time.Second, MaxBackoff: 600 * time.Second,
			Retention: 24 * time.Hour, MaxDeliveryAttempts: 100, DeadLetterTopic: DeadLetter,
		},
		{
			// A request is handled in seconds; one that keeps failing is dead-lettered after
			// Pub/Sub's 100 attempts (about 16.5 h), within the retention.
			Name: RequestsSubscription, Topic: Requests, Function: "Dispatch",
			AckDeadline: 90 * time.Second, MinBackoff: 10 * time.Second, MaxBackoff: 600 * time.Second,
			Retention: 24 * time.Hour, MaxDeliveryAttempts: 100, DeadLetterTopic: DeadLetter,
		},
		{
			Name: "webhook-deliveries-deliver", Topic: Deliveries, Function: "Deliver",
			AckDeadline: 90 * time.Second, MinBackoff: 10 * time.Second, MaxBackoff: 600 * time.Second,
			Retention: 24 * time.Hour, MaxDeliveryAttempts: 100, DeadLetterTopic: DeadLetter,
		},
		{
			// The same policy as webhook-deliveries: a waiting task is re-published as a new
			// generation before the 100 attempts or the retention would end it.
			Name: WaitingSubscription, Topic: Waiting, Function: "Deliver",
			AckDeadline: 90 * time.Second, MinBackoff: 10 * time.Second, MaxBackoff: 600 * time.Second,
			Retention: 24 * time.Hour, MaxDeliveryAttempts: 100, DeadLetterTopic: DeadLetter,
		},
		{
			// The last stop has no dead-letter policy of its own: DeadLetter only records, and a
			// week of retention covers an outage of the store.
			Name: "webhook-dead-letter-record", Topic: DeadLetter, Function: "DeadLetter",
			AckDeadline: 90 * time.Second, MinBackoff: 10 * time.Second, MaxBackoff: 600 * time.Second,
			Retention: 7 * 24 * time.Hour,
		},
	}
}
