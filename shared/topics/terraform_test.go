package topics_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/topics"
)

// The local stack creates its subscriptions from topics.Subscriptions(); Terraform deploys the
// ones in terraform/pubsub.tf. This test keeps the two equal, field by field. Terraform puts
// var.name_prefix in front of every name; the names compared here are those without a prefix.

const (
	pubsubTF    = "../../terraform/pubsub.tf"
	variablesTF = "../../terraform/variables.tf"
	blockStart  = "# >>> subscription settings"
	blockEnd    = "# <<< subscription settings"
)

func TestTerraform_SubscriptionsEqualTheLocalStack(t *testing.T) {
	tf := parseSettingsBlock(t)

	for _, want := range topics.Subscriptions() {
		got, ok := tf.subscriptions[want.Name]
		if !ok {
			t.Errorf("terraform/pubsub.tf has no subscription %q", want.Name)
			continue
		}
		check := func(field, inTerraform, inCode string) {
			if inTerraform != inCode {
				t.Errorf("subscription %s: %s is %q in Terraform, %q in topics.Subscriptions()", want.Name, field, inTerraform, inCode)
			}
		}
		check("topic", got["topic"], want.Topic)
		check("function", got["function"], want.Function)
		check("ack_deadline_seconds", got["ack_deadline_seconds"], strconv.Itoa(int(want.AckDeadline.Seconds())))
		check("minimum_backoff", normDuration(t, got["minimum_backoff"]), want.MinBackoff.String())
		check("maximum_backoff", normDuration(t, got["maximum_backoff"]), want.MaxBackoff.String())
		check("message_retention", normDuration(t, got["message_retention"]), want.Retention.String())
		check("max_delivery_attempts", got["max_delivery_attempts"], strconv.Itoa(want.MaxDeliveryAttempts))
		check("dead_letter_topic", got["dead_letter_topic"], want.DeadLetterTopic)
	}
	if got, want := len(tf.subscriptions), len(topics.Subscriptions()); got != want {
		t.Errorf("terraform/pubsub.tf defines %d subscriptions, topics.Subscriptions() %d", got, want)
	}
}

func TestTerraform_TopicsEqualTheLocalStack(t *testing.T) {
	tf := parseSettingsBlock(t)
	want := map[string]bool{topics.JobEvents: true, topics.Requests: true, topics.Deliveries: true, topics.Waiting: true, topics.DeadLetter: true}
	got := map[string]bool{}
	for _, id := range tf.topicIDs {
		got[id] = true
		if !want[id] {
			t.Errorf("terraform/pubsub.tf creates topic %q, which the code does not know", id)
		}
	}
	for id := range want {
		if !got[id] {
			t.Errorf("terraform/pubsub.tf does not create topic %q", id)
		}
	}
}

func TestTerraform_FunctionTimeoutStaysBelowEveryAckDeadline(t *testing.T) {
	def := variableDefault(t, "function_timeout_seconds")
	if want := strconv.Itoa(int(topics.FunctionTimeout.Seconds())); def != want {
		t.Errorf("terraform function_timeout_seconds defaults to %s, topics.FunctionTimeout is %s s", def, want)
	}
	for _, s := range topics.Subscriptions() {
		if s.AckDeadline <= topics.FunctionTimeout {
			t.Errorf("subscription %s: ack deadline %v is not above the function timeout %v: Pub/Sub would redeliver messages still being handled", s.Name, s.AckDeadline, topics.FunctionTimeout)
		}
	}
}

type settings struct {
	topicIDs      map[string]string            // local.topic_ids
	subscriptions map[string]map[string]string // local.subscriptions: name -> key -> literal
}

var (
	openMap    = regexp.MustCompile(`^(\w+)\s*=\s*\{$`)
	openQuoted = regexp.MustCompile(`^"([a-z0-9-]+)"\s*=\s*\{$`)
	assignment = regexp.MustCompile(`^(\w+)\s*=\s*("[^"]*"|-?[0-9]+)$`)
)

// parseSettingsBlock reads the marked block of terraform/pubsub.tf: `key = literal` lines in
// the maps local.topic_ids and local.subscriptions. Anything else inside the block (an expression
// instead of a literal, an unknown map) fails the test, so the block cannot silently drift.
func parseSettingsBlock(t *testing.T) settings {
	t.Helper()
	f, err := os.Open(filepath.FromSlash(pubsubTF))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	s := settings{topicIDs: map[string]string{}, subscriptions: map[string]map[string]string{}}
	var (
		in, done bool
		path     []string // open maps, outermost first (after `locals`)
		lineNo   int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, blockStart):
			in = true
			continue
		case strings.HasPrefix(line, blockEnd):
			in, done = false, true
		}
		if !in || line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if line == "locals {" && len(path) == 0 {
			path = append(path, "locals")
			continue
		}
		if line == "}" {
			if len(path) == 0 {
				t.Fatalf("pubsub.tf:%d: unbalanced }", lineNo)
			}
			path = path[:len(path)-1]
			continue
		}
		if m := openMap.FindStringSubmatch(line); m != nil && len(path) == 1 {
			path = append(path, m[1])
			continue
		}
		if m := openQuoted.FindStringSubmatch(line); m != nil && len(path) == 2 && path[1] == "subscriptions" {
			path = append(path, m[1])
			s.subscriptions[m[1]] = map[string]string{}
			continue
		}
		m := assignment.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("pubsub.tf:%d: %q is not `key = literal` (the settings block holds literals only)", lineNo, line)
		}
		value := strings.Trim(m[2], `"`)
		switch {
		case len(path) == 2 && path[1] == "topic_ids":
			s.topicIDs[m[1]] = value
		case len(path) == 3 && path[1] == "subscriptions":
			s.subscriptions[path[2]][m[1]] = value
		default:
			t.Fatalf("pubsub.tf:%d: %q is outside local.topic_ids and local.subscriptions", lineNo, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !done {
		t.Fatalf("terraform/pubsub.tf has no block between %q and %q", blockStart, blockEnd)
	}
	if len(s.subscriptions) == 0 {
		t.Fatal("the settings block of terraform/pubsub.tf defines no subscription")
	}
	return s
}

// variableDefault returns the literal default of variable name in terraform/variables.tf.
func variableDefault(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.FromSlash(variablesTF))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?s)variable\s+"` + regexp.QuoteMeta(name) + `"\s*\{.*?\n\s*default\s*=\s*([^\n]+)`)
	m := re.FindSubmatch(data)
	if m == nil {
		t.Fatalf("terraform/variables.tf has no variable %q with a default", name)
	}
	return strings.TrimSpace(string(m[1]))
}

// normDuration turns a Pub/Sub duration literal ("600s") into time.Duration's spelling ("10m0s").
func normDuration(t *testing.T, s string) string {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Errorf("%q is not a duration", s)
		return s
	}
	return d.String()
}
