package store

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobhooks/jobhooks/shared/webhook"
)

// stored is what each collection's documents are written from (shared/store/README.md, Data model).
var stored = map[string]any{
	"deliveries":  deliveryDoc{},
	"attempts":    attemptDoc{},
	"events":      eventDoc{},
	"deadletters": deadLetterDoc{},
	"webhooks":    webhook.Webhook{},
	"slots":       slotDoc{},
	"limits":      limitDoc{},
	"apikeys":     APIKey{},
	"projects": struct {
		Generation int64 `firestore:"portal_link_generation"`
	}{},
}

// TestIndexes_EveryWrittenFieldIsQueriedOrExemptAndEveryTimeIndexStartsWithTheShard holds
// terraform/firestore.tf against the fields the store writes and the queries it declares
// (Indexes, SingleFieldQueries): every field written at the top of a document is used by a
// declared query or exempt from indexing; no exemption names a field that is not written or
// that a single-field query needs; every composite index with a time starts with the shard;
// a time keeps its automatic index only for a declared query that says why it is no hotspot;
// and every field the store's code filters or orders on is in a declared query.
func TestIndexes_EveryWrittenFieldIsQueriedOrExemptAndEveryTimeIndexStartsWithTheShard(t *testing.T) {
	exempt := exemptions(t)
	written := map[string]map[string]reflect.Type{}
	for coll, v := range stored {
		written[coll] = topFields(reflect.TypeOf(v))
	}
	for _, c := range collectionsInCode(t) {
		if stored[c] == nil {
			t.Errorf("the store writes collection %q, which this test does not know: add its document type to stored", c)
		}
	}
	queried, single := map[string]bool{}, map[string]bool{}
	for _, ix := range Indexes {
		for i, f := range ix.Fields {
			name, _, _ := strings.Cut(f, " ")
			queried[ix.Collection+"/"+name] = true
			if written[ix.Collection][name] == reflect.TypeFor[time.Time]() && !strings.HasPrefix(ix.Fields[0], "shard ") {
				t.Errorf("%s: the index %s has the time %s at position %d but does not start with the shard", ix.Query, ix.Fields, name, i)
			}
		}
	}
	for _, q := range SingleFieldQueries {
		for _, f := range q.Fields {
			queried[q.Collection+"/"+f], single[q.Collection+"/"+f] = true, true
			if written[q.Collection][f] == reflect.TypeFor[time.Time]() && q.Why == "" {
				t.Errorf("%s orders or filters on the time %s/%s through its automatic index, a hotspot at about 500 writes/s, without saying why that collection is written far slower", q.Query, q.Collection, f)
			}
		}
	}
	for coll, fields := range written {
		for f := range fields {
			key := coll + "/" + f
			if !queried[key] && !exempt[key] {
				t.Errorf("%s is written but no declared query uses it and terraform/firestore.tf does not exempt it from indexing", key)
			}
		}
	}
	for key := range exempt {
		coll, f, _ := strings.Cut(key, "/")
		if _, ok := written[coll][f]; !ok {
			t.Errorf("terraform/firestore.tf exempts %s, which the store does not write at the top of a document", key)
		}
		if single[key] {
			t.Errorf("terraform/firestore.tf exempts %s, which a single-field query needs indexed", key)
		}
	}
	for _, f := range fieldsInQueries(t) {
		used := false
		for key := range queried {
			used = used || strings.HasSuffix(key, "/"+f)
		}
		if !used {
			t.Errorf("the store's code queries the field %q, which no declared query (Indexes, SingleFieldQueries) names", f)
		}
	}
}

// exemptions reads terraform/firestore.tf's exempt fields: the unindexed lists and the TTL's
// expire_time fields (exempt too).
func exemptions(t *testing.T) map[string]bool {
	t.Helper()
	hcl, err := os.ReadFile("../../terraform/firestore.tf")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	block := regexp.MustCompile(`(?s)\n  unindexed = \{\n(.*?)\n  \}\n`).FindSubmatch(hcl)
	if block == nil {
		t.Fatal("terraform/firestore.tf has no unindexed = { ... } list")
	}
	entry := regexp.MustCompile(`(?s)(\w+)\s*=\s*\[(.*?)\]`)
	quoted := regexp.MustCompile(`"([^"]+)"`)
	for _, m := range entry.FindAllSubmatch(block[1], -1) {
		for _, f := range quoted.FindAllSubmatch(m[2], -1) {
			out[string(m[1])+"/"+string(f[1])] = true
		}
	}
	ttl := regexp.MustCompile(`(?s)resource "google_firestore_field" "expire_time" \{\s*for_each = toset\(\[(.*?)\]\)`).FindSubmatch(hcl)
	if ttl == nil {
		t.Fatal("terraform/firestore.tf has no expire_time TTL fields")
	}
	for _, c := range quoted.FindAllSubmatch(ttl[1], -1) {
		out[string(c[1])+"/expire_time"] = true
	}
	return out
}

// topFields are the stored top-level fields of a document type, with their Go types.
func topFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("firestore"), ",")
		if name != "" && name != "-" {
			out[name] = t.Field(i).Type
		}
	}
	return out
}

// collectionsInCode are the collection ids the store's code names.
func collectionsInCode(t *testing.T) []string {
	return literalArgs(t, "Collection")
}

// fieldsInQueries are the fields the store's code passes to Where and OrderBy.
func fieldsInQueries(t *testing.T) []string {
	return append(literalArgs(t, "Where"), literalArgs(t, "OrderBy")...)
}

// literalArgs are the string literals passed first to calls of method in the store's code.
func literalArgs(t *testing.T, method string) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == method {
				if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil && !slices.Contains(out, s) {
						out = append(out, s)
					}
				}
			}
			return true
		})
	}
	return out
}

// A listing reads every shard and merges them: pages of 7 over 40 records spread over the
// shards come out exactly newest first, each record once.
func TestLayout_AListingMergesEveryShardNewestFirstAcrossPages(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var want []string
	shards := map[int]bool{}
	for i := range 40 {
		id := fmt.Sprintf("dlv_m%02d", i)
		d := Delivery{ID: id, Project: "merge", Webhook: "w", State: Delivered, CreateTime: t0.Add(time.Duration(i) * time.Second)}
		if err := s.PutDelivery(ctx, &d); err != nil {
			t.Fatal(err)
		}
		want = append([]string{id}, want...)
		shards[shardOf(id)] = true
	}
	if len(shards) < Shards/2 {
		t.Fatalf("40 ids fell in %d shards; the test needs them spread", len(shards))
	}
	var got []string
	after := ""
	for range 10 {
		page, err := s.ListDeliveries(ctx, "merge", "w", "", 7, after)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page {
			got = append(got, d.ID)
		}
		if len(page) < 7 {
			break
		}
		after = page[len(page)-1].ID
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("pages of 7:\n got %s\nwant %s", strings.Join(got, ","), strings.Join(want, ","))
	}
	replay, err := s.FinishedDeliveriesBetween(ctx, "merge", "w", t0, t0.Add(time.Hour), 5)
	if err != nil || len(replay) != 0 {
		t.Errorf("replay of delivered records: %d, %v; want none", len(replay), err)
	}
}

// The stored shape: a record's unqueried fields inside its map, an event under a hash of its
// id, a dead letter found by its ids' hashes; a record written flat by an older version reads.
func TestLayout_RecordsAreStoredInTheirLayoutAndAFlatRecordStillReads(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	d := Delivery{ID: "dlv_shape", Project: "shape", Webhook: "w", State: Delivered, URL: "https://example.com/hook", CreateTime: now, Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	if err := s.PutDelivery(ctx, &d); err != nil {
		t.Fatal(err)
	}
	snap, err := s.deliveries("shape").Doc("dlv_shape").Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, top := snap.Data()["url"]; top {
		t.Error("the record's url is stored at the top of the document, where it is indexed")
	}
	if v, err := snap.DataAt("d.url"); err != nil || v != d.URL {
		t.Errorf("d.url = %v, %v", v, err)
	}
	d.State = Failed
	d.Traceparent = ""
	if err := s.PutDelivery(ctx, &d); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetDelivery(ctx, "shape", "dlv_shape"); got.State != Failed || got.Traceparent == "" {
		t.Errorf("after an update: state %s, traceparent %q; want failed and the creation's traceparent kept", got.State, got.Traceparent)
	}

	if _, err := s.ClaimEvent(ctx, EventRecord{Project: "shape", ID: "batch-1", Type: "batch.succeeded"}, time.Minute, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.events("shape").Doc("batch-1").Get(ctx); status.Code(err) != codes.NotFound {
		t.Errorf("the event is stored under the publisher's id (%v); want a hash of it", err)
	}
	if rec, err := s.GetEvent(ctx, "shape", "batch-1"); err != nil || rec.ID != "batch-1" || rec.Type != "batch.succeeded" {
		t.Errorf("GetEvent = %+v, %v", rec, err)
	}

	if err := s.RecordDeadLetter(ctx, DeadLetter{ID: "1001", Kind: "delivery", Project: "shape", EventID: "batch-7", DeliveryID: "dlv_x", Time: now}); err != nil {
		t.Fatal(err)
	}
	for field, v := range map[string]string{"event_id": "batch-7", "delivery_id": "dlv_x"} {
		if got, err := s.FindDeadLetters(ctx, field, v); err != nil || len(got) != 1 || got[0].ID != "1001" {
			t.Errorf("FindDeadLetters(%s=%s) = %+v, %v", field, v, got, err)
		}
	}
	if got, _ := s.FindDeadLetters(ctx, "event_id", "dlv_x"); len(got) != 0 {
		t.Errorf("a delivery id found as an event id: %+v", got)
	}

	flat := map[string]any{"id": "dlv_flat", "project": "shape", "webhook": "w", "state": "delivered", "url": "https://example.com/old",
		"create_time": now, "traceparent": "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"}
	if _, err := s.deliveries("shape").Doc("dlv_flat").Set(ctx, flat); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetDelivery(ctx, "shape", "dlv_flat"); err != nil || got.URL != "https://example.com/old" || got.State != Delivered || got.Traceparent == "" {
		t.Errorf("a flat record reads as %+v, %v", got, err)
	}
}
