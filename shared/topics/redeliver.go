package topics

import (
	"context"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Redeliver stands in for Pub/Sub's redelivery, which the emulator stops doing; the local stack
// runs it, production needs nothing of the kind. With a retry policy (the stack keeps
// Terraform's 10 s–600 s), once more than a couple of a subscription's messages are nacked, the
// emulator pushes each of them two or three times within seconds and then not at all: measured
// with 20 to 200 nacked messages and backoffs of 1–2 s, 10–60 s and 10–600 s, not one
// redelivery in the next 500 s. A single nacked message is redelivered about as configured,
// which is why the pipeline tests, one failing delivery at a time, never see it.
//
// Every `every`, Redeliver seeks each subscription to `since`, a time before the stack started:
// every unacknowledged message is marked for delivery again (acknowledged ones are not
// retained, so not redelivered), and the emulator pushes it, twice, a second apart. A nacked
// delivery is so retried about every `every`, like a fixed backoff of that length; the
// subscriptions' settings are not changed. A seek while a message is being pushed may deliver
// it twice at once, as Pub/Sub itself may: Deliver must cope (the fault storm counts the
// duplicates).
//
// The waiting subscription is sought every WaitingEvery ticks only: its tasks wait for their
// endpoint (a pause, an open circuit, a slot), and Pub/Sub backs a message nacked again and again
// off to 10 minutes; seeking 1,000 of them every 10 s would spend the local stack's one Deliver
// and Firestore emulator on pushes that can only wait again.
// WaitingEvery is how many of Redeliver's ticks pass between two seeks of the waiting
// subscription: every minute at the local stack's 10 s.
const WaitingEvery = 6

func Redeliver(ctx context.Context, client *pubsub.Client, since time.Time, every time.Duration) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for tick := 1; ; tick++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, s := range Subscriptions() {
			if s.Name == WaitingSubscription && tick%WaitingEvery != 0 {
				continue
			}
			// An error (the emulator busy) is left to the next tick.
			_, _ = client.SubscriptionAdminClient.Seek(ctx, &pubsubpb.SeekRequest{
				Subscription: "projects/" + client.Project() + "/subscriptions/" + s.Name,
				Target:       &pubsubpb.SeekRequest_Time{Time: timestamppb.New(since)},
			})
		}
	}
}
