package contracts_test

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The documentation is a contract too: what a reader copies from it must be what Dispatch and
// the schemas accept.

// doc is one markdown file of the repository, read once.
type doc struct {
	rel      string   // path from the repository root, slash-separated
	text     string   // the whole file
	prose    string   // the text outside fenced code blocks
	headings []string // heading texts, markdown marks removed
}

var (
	fence       = regexp.MustCompile("^\\s*(```|~~~)")
	headingLine = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
)

// readDoc reads one markdown file: its prose outside fenced code and its headings.
func readDoc(t *testing.T, root, rel string) doc {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	d := doc{rel: rel, text: string(b)}
	var prose strings.Builder
	inFence := false
	for _, line := range strings.Split(string(b), "\n") {
		if fence.MatchString(line) {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		if m := headingLine.FindStringSubmatch(line); m != nil {
			d.headings = append(d.headings, strings.ReplaceAll(m[2], "`", ""))
		}
		prose.WriteString(line)
		prose.WriteByte('\n')
	}
	d.prose = prose.String()
	return d
}

// docs reads every markdown file of the repository, except the local stack's state (.dev) and
// other hidden directories.
func docs(t *testing.T) (root string, all map[string]doc) {
	t.Helper()
	root = repoRoot(t)
	all = map[string]doc{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") {
			rel, _ := filepath.Rel(root, path)
			rel = filepath.ToSlash(rel)
			all[rel] = readDoc(t, root, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := all["README.md"]; !ok || len(all) < 5 {
		t.Fatalf("found only %d markdown files; the walk lost track of them", len(all))
	}
	return root, all
}

// TestDocs_JSONExamplesAreValid checks every ```json block of the documentation that is a job
// event or a payload: what a reader copies must be what Dispatch and the schemas accept.
func TestDocs_JSONExamplesAreValid(t *testing.T) {
	_, all := docs(t)
	found := 0
	for _, rel := range slices.Sorted(maps.Keys(all)) {
		for i, block := range strings.Split(all[rel].text, "```json\n")[1:] {
			block, _, _ = strings.Cut(block, "```")
			where := fmt.Sprintf("%s json block %d", rel, i+1)
			switch kind([]byte(block)) {
			case "event":
				checkEvent(t, where, []byte(block))
				found++
			case "payload":
				checkPayload(t, where, []byte(block))
				found++
			}
		}
	}
	if found < 2 {
		t.Errorf("the documentation has %d JSON job events or payloads; the test lost track of them", found)
	}
}
