package store

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"time"

	"cloud.google.com/go/firestore"
)

// How records are laid out in Firestore (shared/store/README.md, Data model): the fields a query
// uses at the top of the document, everything else in one map that Terraform exempts from
// indexing whole (terraform/firestore.tf), so no timestamp, response excerpt or event body gets
// an index entry; a shard number leads every index that ends in a time, so that records created
// at the same moment are spread over Shards ranges of the index instead of one.

// Shards is how many ranges the time-ordered indexes of deliveries and dead letters are spread
// over. Firestore sustains about 500 writes/s into one range of monotonically increasing values
// (its best practices, "shard timestamp"): Shards of them hold 4,000/s for one webhook. A listing
// reads every shard and merges them.
const Shards = 8

// shardOf is the shard of a record, from its id: stable, so a record stays in its shard.
func shardOf(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % Shards)
}

// deliveryDoc is how a delivery record is stored: the fields its queries use, then the record
// whole in d. Traceparent sits beside d because only the record's creation writes it (an update
// replaces d whole).
type deliveryDoc struct {
	Shard           int           `firestore:"shard"`
	Webhook         string        `firestore:"webhook"`
	State           DeliveryState `firestore:"state"`
	CreateTime      time.Time     `firestore:"create_time"`
	LastAttemptTime time.Time     `firestore:"last_attempt_time"`
	ExpireTime      time.Time     `firestore:"expire_time"`
	Traceparent     string        `firestore:"traceparent,omitempty"`
	D               Delivery      `firestore:"d"`
}

func deliveryDocOf(d Delivery) deliveryDoc {
	return deliveryDoc{Shard: shardOf(d.ID), Webhook: d.Webhook, State: d.State, CreateTime: d.CreateTime,
		LastAttemptTime: d.LastAttemptTime, ExpireTime: d.ExpireTime, Traceparent: d.Traceparent, D: d}
}

// DecodeDelivery reads a delivery record from its document, also one written flat, before the
// layout above (shared/store/README.md, Upgrading).
func DecodeDelivery(snap *firestore.DocumentSnapshot) (Delivery, error) {
	var doc deliveryDoc
	if err := snap.DataTo(&doc); err != nil {
		return Delivery{}, err
	}
	if _, nested := snap.Data()["d"]; !nested {
		if err := snap.DataTo(&doc.D); err != nil {
			return Delivery{}, err
		}
	}
	d := doc.D
	d.Traceparent, d.Version = doc.Traceparent, snap.UpdateTime
	return d, nil
}

// attemptDoc is how an attempt beyond a first-try success is stored: its number, by which the
// attempts are listed, then the attempt whole in a.
type attemptDoc struct {
	Number     int       `firestore:"number"`
	ExpireTime time.Time `firestore:"expire_time"`
	A          Attempt   `firestore:"a"`
}

func decodeAttempt(snap *firestore.DocumentSnapshot) (Attempt, error) {
	var doc attemptDoc
	if err := snap.DataTo(&doc); err != nil {
		return Attempt{}, err
	}
	if _, nested := snap.Data()["a"]; !nested {
		err := snap.DataTo(&doc.A)
		return doc.A, err
	}
	return doc.A, nil
}

// eventDoc is how an event record is stored: nothing of it is queried, so all of it is in e.
type eventDoc struct {
	ExpireTime time.Time   `firestore:"expire_time"`
	E          EventRecord `firestore:"e"`
}

// EventKey is the document id of the event a publisher named id: a hash, because a job
// system's ids may be sequential (batch-1, batch-2, ...), and sequential document ids crowd
// one range of the collection. The id itself is kept in the record.
func EventKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "ev_" + hex.EncodeToString(sum[:16])
}

// DecodeEvent reads an event record from its document.
func DecodeEvent(snap *firestore.DocumentSnapshot) (EventRecord, error) {
	var doc eventDoc
	err := snap.DataTo(&doc)
	return doc.E, err
}

// deadLetterDoc is how a dead letter is stored: what its listings and lookups use, then the
// dead letter whole in d. Lookup holds a hash of each id it is found by (lookupKey): a
// publisher's event ids and Pub/Sub's message ids may be sequential, their hashes are not.
type deadLetterDoc struct {
	Shard      int        `firestore:"shard"`
	Project    string     `firestore:"project"`
	Kind       string     `firestore:"kind"`
	Time       time.Time  `firestore:"time"`
	Lookup     []string   `firestore:"lookup"`
	ExpireTime time.Time  `firestore:"expire_time"`
	D          DeadLetter `firestore:"d"`
}

func deadLetterDocOf(d DeadLetter) deadLetterDoc {
	doc := deadLetterDoc{Shard: shardOf(d.ID), Project: d.Project, Kind: d.Kind, Time: d.Time, ExpireTime: d.ExpireTime, D: d}
	for _, id := range [][2]string{{"delivery_id", d.DeliveryID}, {"event_id", d.EventID}, {"source_message_id", d.SourceMessageID}} {
		if id[1] != "" {
			doc.Lookup = append(doc.Lookup, lookupKey(id[0], id[1]))
		}
	}
	return doc
}

// deadLetterKey is the document id of the dead letter of Pub/Sub message id: a hash, because
// message ids grow with time.
func deadLetterKey(id string) string { return "dl_" + lookupKey("id", id) }

func lookupKey(field, value string) string {
	sum := sha256.Sum256([]byte(field + "\x00" + value))
	return hex.EncodeToString(sum[:12])
}

func decodeDeadLetter(snap *firestore.DocumentSnapshot) (DeadLetter, error) {
	var doc deadLetterDoc
	if err := snap.DataTo(&doc); err != nil {
		return DeadLetter{}, err
	}
	if _, nested := snap.Data()["d"]; !nested {
		err := snap.DataTo(&doc.D)
		return doc.D, err
	}
	return doc.D, nil
}
