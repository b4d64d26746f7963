package pipelinetest

import (
	"context"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
)

// Firestore bills storage by its documented size calculation (Firestore documentation, "Storage
// size calculations"): a string is its UTF-8 bytes + 1; a document name is the sizes of its
// collection and document ids + 16; a document is its name + each field's name and value + 32;
// an entry of a collection-scoped index is the document's name + its parent document's name +
// (single-field: the field's name) + the indexed values + 32. Firestore indexes every field
// automatically, ascending and descending (array fields: one array-contains entry per value),
// map subfields recursively, unless an exemption says otherwise; composite indexes add one entry
// per document that has all their fields. The model reads the indexes and exemptions from
// terraform/firestore.tf and the documents from the database the ops test wrote.

// indexModel is what terraform/firestore.tf declares, per collection id.
type indexModel struct {
	// composite lists each composite index's field paths.
	composite map[string][][]string
	// exempt holds the field paths exempt from single-field indexing (their subfields too).
	exempt map[string][]string
}

var (
	tfIndexBlock = regexp.MustCompile(`(?s)resource "google_firestore_index" "\w+" \{(.*?)\n\}`)
	tfCollection = regexp.MustCompile(`collection\s*=\s*"(\w+)"`)
	tfFieldPath  = regexp.MustCompile(`field_path\s*=\s*"([\w.]+)"`)
	tfUnindexed  = regexp.MustCompile(`(?s)\n  unindexed = \{\n(.*?)\n  \}\n`)
	tfExemption  = regexp.MustCompile(`(?s)(\w+)\s*=\s*\[(.*?)\]`)
	tfTTLFields  = regexp.MustCompile(`(?s)resource "google_firestore_field" "expire_time" \{\s*for_each\s*=\s*toset\(\[([^\]]*)\]\)`)
)

// readIndexModel parses terraform/firestore.tf; it fails the test when it finds no index or no
// exemption, so that a change of the file's shape is noticed rather than priced as "no index".
func readIndexModel(t *testing.T) indexModel {
	t.Helper()
	src, err := os.ReadFile("../../../terraform/firestore.tf")
	if err != nil {
		t.Fatal(err)
	}
	m := indexModel{composite: map[string][][]string{}, exempt: map[string][]string{}}
	for _, b := range tfIndexBlock.FindAllStringSubmatch(string(src), -1) {
		c := tfCollection.FindStringSubmatch(b[1])
		var fields []string
		for _, f := range tfFieldPath.FindAllStringSubmatch(b[1], -1) {
			fields = append(fields, f[1])
		}
		if c == nil || len(fields) == 0 {
			t.Fatalf("terraform/firestore.tf: a composite index without collection or fields:\n%s", b[0])
		}
		m.composite[c[1]] = append(m.composite[c[1]], fields)
	}
	unindexed := tfUnindexed.FindStringSubmatch(string(src))
	if unindexed == nil {
		t.Fatal("terraform/firestore.tf: no unindexed = { collection = [fields] } list; the storage model cannot read the file's shape")
	}
	for _, e := range tfExemption.FindAllStringSubmatch(unindexed[1], -1) {
		for _, f := range regexp.MustCompile(`"([\w.]+)"`).FindAllStringSubmatch(e[2], -1) {
			m.exempt[e[1]] = append(m.exempt[e[1]], f[1])
		}
	}
	if ttl := tfTTLFields.FindStringSubmatch(string(src)); ttl != nil {
		for _, c := range regexp.MustCompile(`"(\w+)"`).FindAllStringSubmatch(ttl[1], -1) {
			m.exempt[c[1]] = append(m.exempt[c[1]], "expire_time")
		}
	}
	if len(m.composite) == 0 || len(m.exempt) == 0 {
		t.Fatalf("terraform/firestore.tf: read %d composite indexes and %d exemptions; the storage model cannot read the file's shape", len(m.composite), len(m.exempt))
	}
	return m
}

func (m indexModel) isExempt(collection, path string) bool {
	for _, e := range m.exempt[collection] {
		if path == e || strings.HasPrefix(path, e+".") {
			return true
		}
	}
	return false
}

// storedSize is what one document occupies: itself and its index entries, in bytes.
type storedSize struct {
	document, singleField, composite int
}

func (s storedSize) total() int { return s.document + s.singleField + s.composite }

// sizeOf sizes the document at path (relative to the database, e.g. projects/acme/events/e1)
// whose fields are data.
func (m indexModel) sizeOf(path string, data map[string]any) storedSize {
	segs := strings.Split(path, "/")
	name, parent := nameSize(segs), 0
	if len(segs) > 2 {
		parent = nameSize(segs[:len(segs)-2])
	}
	collection := segs[len(segs)-2]
	out := storedSize{document: name + mapSize(data) + 32}
	for _, leaf := range leaves("", data) {
		if m.isExempt(collection, leaf.path) {
			continue
		}
		if arr, ok := leaf.value.([]any); ok {
			seen := map[any]bool{}
			for _, v := range arr {
				if k := arrayKey(v); !seen[k] {
					seen[k] = true
					out.singleField += name + parent + stringSize(leaf.path) + valueSize(v) + 32
				}
			}
			continue
		}
		// Ascending and descending.
		out.singleField += 2 * (name + parent + stringSize(leaf.path) + valueSize(leaf.value) + 32)
	}
	for _, fields := range m.composite[collection] {
		entry, complete := name+parent+32, true
		for _, f := range fields {
			v, ok := lookup(data, f)
			if !ok {
				complete = false
				break
			}
			entry += valueSize(v)
		}
		if complete {
			out.composite += entry
		}
	}
	return out
}

type leaf struct {
	path  string
	value any
}

// leaves are the fields Firestore indexes on its own: every non-map value, map subfields
// recursively.
func leaves(prefix string, data map[string]any) []leaf {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []leaf
	for _, k := range keys {
		p := prefix + k
		if sub, ok := data[k].(map[string]any); ok {
			out = append(out, leaves(p+".", sub)...)
			continue
		}
		out = append(out, leaf{p, data[k]})
	}
	return out
}

func lookup(data map[string]any, path string) (any, bool) {
	head, rest, nested := strings.Cut(path, ".")
	v, ok := data[head]
	if !ok || !nested {
		return v, ok
	}
	sub, isMap := v.(map[string]any)
	if !isMap {
		return nil, false
	}
	return lookup(sub, rest)
}

func arrayKey(v any) any {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	if _, ok := v.(map[string]any); ok {
		return &v // maps are not comparable: each counts once
	}
	return v
}

func stringSize(s string) int { return len(s) + 1 }

func nameSize(segs []string) int {
	n := 16
	for _, s := range segs {
		n += stringSize(s)
	}
	return n
}

func mapSize(m map[string]any) int {
	n := 0
	for k, v := range m {
		n += stringSize(k) + valueSize(v)
	}
	return n
}

func valueSize(v any) int {
	switch v := v.(type) {
	case nil:
		return 1
	case bool:
		return 1
	case int64, float64, time.Time:
		return 8
	case string:
		return stringSize(v)
	case []byte:
		return len(v)
	case []any:
		n := 0
		for _, e := range v {
			n += valueSize(e)
		}
		return n
	case map[string]any:
		return mapSize(v) + 32
	case *firestore.DocumentRef:
		return nameSize(strings.Split(v.Path[strings.Index(v.Path, "/documents/")+len("/documents/"):], "/"))
	default:
		panic("storage size of an unknown Firestore type")
	}
}

// storedBytes reads back the documents the ops test's second event wrote (each once, as it
// stands after the last write) and sizes them with their index entries.
func storedBytes(t *testing.T, s *Stack, docs []string, m indexModel) storedSize {
	t.Helper()
	ctx := context.Background()
	fs, err := firestore.NewClientWithDatabase(ctx, s.Config.GoogleProject, s.Config.FirestoreDatabase)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	var sum storedSize
	var seen []string
	for _, name := range docs {
		path := name[strings.Index(name, "/documents/")+len("/documents/"):]
		if slices.Contains(seen, path) {
			continue
		}
		seen = append(seen, path)
		snap, err := fs.Doc(path).Get(ctx)
		if err != nil {
			t.Fatalf("read back %s: %v", path, err)
		}
		sz := m.sizeOf(path, snap.Data())
		t.Logf("stored: %s: document %d B, single-field index entries %d B, composite %d B", path, sz.document, sz.singleField, sz.composite)
		sum.document += sz.document
		sum.singleField += sz.singleField
		sum.composite += sz.composite
	}
	return sum
}
