package topics

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// CreateOptions say where each function listens.
type CreateOptions struct {
	// Endpoints maps a function name (Subscription.Function) to its push URL; a subscription
	// whose function has no endpoint is not created.
	Endpoints map[string]string
	// MinBackoff and MaxBackoff, when set, replace the retry policy so that tests of the retry
	// path take seconds rather than minutes. The local stack keeps Terraform's values.
	MinBackoff, MaxBackoff time.Duration
	// MaxDeliveryAttempts, when set, replaces the dead-letter limit (Pub/Sub's minimum is 5), so a
	// test can watch Pub/Sub itself dead-letter a message.
	MaxDeliveryAttempts int
}

// Create makes the five topics and the push subscriptions of Subscriptions(). It is what
// Terraform deploys, for the emulator: the local stack and the integration tests call it.
// Existing topics and subscriptions are kept (their push endpoint is updated), so a restart of
// the local stack reuses them.
func Create(ctx context.Context, client *pubsub.Client, opts CreateOptions) error {
	project := client.Project()
	topicName := func(id string) string { return "projects/" + project + "/topics/" + id }
	for _, id := range []string{JobEvents, Requests, Deliveries, Waiting, DeadLetter} {
		_, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topicName(id)})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("topics: create topic %s: %w", id, err)
		}
	}
	for _, s := range Subscriptions() {
		if opts.MinBackoff > 0 {
			s.MinBackoff, s.MaxBackoff = opts.MinBackoff, opts.MaxBackoff
		}
		if opts.MaxDeliveryAttempts > 0 && s.MaxDeliveryAttempts > 0 {
			s.MaxDeliveryAttempts = opts.MaxDeliveryAttempts
		}
		endpoint, ok := opts.Endpoints[s.Function]
		if !ok {
			continue
		}
		sub := &pubsubpb.Subscription{
			Name:                     "projects/" + project + "/subscriptions/" + s.Name,
			Topic:                    topicName(s.Topic),
			PushConfig:               &pubsubpb.PushConfig{PushEndpoint: endpoint},
			AckDeadlineSeconds:       int32(s.AckDeadline.Seconds()),
			MessageRetentionDuration: durationpb.New(s.Retention),
			RetryPolicy: &pubsubpb.RetryPolicy{
				MinimumBackoff: durationpb.New(s.MinBackoff),
				MaximumBackoff: durationpb.New(s.MaxBackoff),
			},
		}
		if s.MaxDeliveryAttempts > 0 {
			sub.DeadLetterPolicy = &pubsubpb.DeadLetterPolicy{
				DeadLetterTopic:     topicName(s.DeadLetterTopic),
				MaxDeliveryAttempts: int32(s.MaxDeliveryAttempts),
			}
		}
		_, err := client.SubscriptionAdminClient.CreateSubscription(ctx, sub)
		if status.Code(err) == codes.AlreadyExists {
			err = client.SubscriptionAdminClient.ModifyPushConfig(ctx, &pubsubpb.ModifyPushConfigRequest{
				Subscription: sub.Name, PushConfig: sub.PushConfig,
			})
		}
		if err != nil {
			return fmt.Errorf("topics: create subscription %s: %w", s.Name, err)
		}
	}
	return nil
}
