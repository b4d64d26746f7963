package contracts_test

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// The documentation is a contract too: a newcomer follows its links and opens the files it names,
// and the code's comments send readers to README sections. These tests hold every one of them to
// something that exists, so that moving a section or a file breaks the build, not the reader.

// doc is one markdown file of the repository, read once.
type doc struct {
	rel      string   // path from the repository root, slash-separated
	text     string   // the whole file
	prose    string   // the text outside fenced code blocks
	headings []string // heading texts, markdown marks removed
}

// anchors returns the GitHub-style anchors of d's headings.
func (d doc) anchors() []string {
	seen := map[string]int{}
	var out []string
	for _, h := range d.headings {
		a := anchor(h)
		if n := seen[a]; n > 0 {
			out = append(out, fmt.Sprintf("%s-%d", a, n))
		} else {
			out = append(out, a)
		}
		seen[a]++
	}
	return out
}

// anchor is GitHub's anchor of a heading: lower case, punctuation removed (hyphens and
// underscores kept), each space a hyphen.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

var (
	fence       = regexp.MustCompile("^\\s*(```|~~~)")
	headingLine = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
	codeSpan    = regexp.MustCompile("`([^`\n]+)`")
	mdLink      = regexp.MustCompile(`\[[^\]\n]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	scheme      = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
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

// exists reports whether the slash-separated path rel, from the repository root, names a file or
// directory; a path with * must match at least one.
func exists(root, rel string) bool {
	p := filepath.Join(root, filepath.FromSlash(rel))
	if strings.Contains(rel, "*") {
		m, _ := filepath.Glob(p)
		return len(m) > 0
	}
	_, err := os.Stat(p)
	return err == nil
}

// TestDocs_EveryLinkAndNamedFileResolves checks every markdown file: each relative link must
// reach a file or directory of the repository, and a #anchor a heading of its markdown file;
// each `code span` that reads as a repository path must name one that exists.
func TestDocs_EveryLinkAndNamedFileResolves(t *testing.T) {
	root, all := docs(t)
	for _, rel := range slices.Sorted(maps.Keys(all)) {
		d := all[rel]
		dir := filepath.ToSlash(filepath.Dir(rel))
		prose := codeSpan.ReplaceAllString(d.prose, "code") // a link inside code is not a link
		for _, m := range mdLink.FindAllStringSubmatch(prose, -1) {
			if err := checkLink(root, all, d, dir, m[1]); err != nil {
				t.Errorf("%s: link (%s): %v", rel, m[1], err)
			}
		}
		for _, m := range codeSpan.FindAllStringSubmatch(mdLink.ReplaceAllString(d.prose, "link"), -1) {
			if p, ok := repoPath(root, dir, m[1]); ok && !exists(root, p) {
				t.Errorf("%s: `%s` names a file of the repository that does not exist (%s)", rel, m[1], p)
			}
		}
	}
}

func checkLink(root string, all map[string]doc, from doc, dir, target string) error {
	if scheme.MatchString(target) {
		return nil // https:, mailto:: not this repository's
	}
	path, frag, _ := strings.Cut(target, "#")
	to := from.rel
	if path != "" {
		to = filepath.ToSlash(filepath.Join(dir, path))
		if to == ".." || strings.HasPrefix(to, "../") {
			return fmt.Errorf("leaves the repository")
		}
		if !exists(root, to) {
			return fmt.Errorf("%s does not exist", to)
		}
	}
	if frag == "" {
		return nil
	}
	into, ok := all[to]
	if !ok {
		return fmt.Errorf("#%s points into %s, which is not a markdown file", frag, to)
	}
	if !slices.Contains(into.anchors(), frag) {
		return fmt.Errorf("%s has no heading with the anchor #%s (it has %s)", to, frag, strings.Join(into.anchors(), ", "))
	}
	return nil
}

// topDirs are the repository's own top-level directories: a code span that starts with one is a
// path from the root.
var topDirs = []string{"functions", "shared", "terraform", "scripts", ".ci"}

// repoPath tells whether a code span names a repository file, and which: a path that starts
// with a top-level directory, or a relative path ("tests/x.tftest.hcl") or a bare name
// ("gemini_test.go") of a source file, beside the markdown file or from the root. Placeholders,
// URLs, commands and the local stack's state (.dev/) are not paths.
func repoPath(root, dir, span string) (string, bool) {
	if strings.ContainsAny(span, " <>{}()$=@,…\"'") || strings.Contains(span, "://") ||
		strings.Contains(span, "...") || strings.HasPrefix(span, "/") || strings.HasPrefix(span, "-") {
		return "", false
	}
	first, _, nested := strings.Cut(span, "/")
	if nested && slices.Contains(topDirs, first) {
		return span, true
	}
	if first == ".dev" || first == "dist" {
		return "", false
	}
	ext := filepath.Ext(span)
	code := ext == ".go" // a bare "backend.tf" may be one the reader is told to create
	if !code && !(nested && slices.Contains([]string{".json", ".md", ".js", ".css", ".html"}, ext)) {
		return "", false
	}
	if beside := filepath.ToSlash(filepath.Join(dir, span)); exists(root, beside) {
		return beside, true
	}
	return span, true
}

// A citation of a README file in code, as in "shared/delivery/README.md, Guarantees" or
// "README.md: Quickstart". What follows the comma or colon must begin with a heading of that file.
var (
	citation = regexp.MustCompile(`\b(?:[A-Za-z0-9_.-]+/)*README(?:\.md)?\b`)
	section  = regexp.MustCompile(`^[,:] +"?`)
)

// TestDocs_CodeCitesREADMESectionsThatExist checks what the code says about the documentation:
// every README a Go comment (or a Terraform, shell, JavaScript or JSON file) names must exist,
// and a section it names after a comma or colon must be a heading of that README.
func TestDocs_CodeCitesREADMESectionsThatExist(t *testing.T) {
	root, all := docs(t)
	cited := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && strings.HasPrefix(d.Name(), ".") && d.Name() != ".ci" {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		for _, text := range citingTexts(t, path, rel) {
			for _, m := range citation.FindAllStringIndex(text, -1) {
				cited++
				file, rest := text[m[0]:m[1]], ""
				if sep := section.FindString(text[m[1]:]); sep != "" {
					rest = text[m[1]+len(sep):]
				}
				if err := checkCitation(all, file, rest); err != nil {
					t.Errorf("%s: %q: %v", rel, text[m[0]:min(len(text), m[1]+60)], err)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if cited < 50 {
		t.Errorf("found only %d README citations in the code; the search lost track of them", cited)
	}
}

// citingTexts returns the texts of a file that may cite a README file, each on one line: a Go file's
// comments; the whole of a Terraform, shell, JavaScript or JSON file, comment marks removed.
func citingTexts(t *testing.T, path, rel string) []string {
	t.Helper()
	switch ext := filepath.Ext(path); {
	case ext == ".go":
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil // a file that does not parse is the compiler's business
		}
		var out []string
		for _, cg := range f.Comments {
			out = append(out, strings.Join(strings.Fields(cg.Text()), " "))
		}
		return out
	case ext == ".tf" || ext == ".hcl" || ext == ".js" || ext == ".json" && !strings.Contains(rel, "testdata/"),
		strings.HasPrefix(rel, "scripts/") && ext == "", strings.HasPrefix(rel, ".ci/"):
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			line = strings.TrimLeft(strings.TrimPrefix(line, "//"), "# ")
			lines = append(lines, line)
		}
		return []string{strings.Join(strings.Fields(strings.Join(lines, " ")), " ")}
	}
	return nil
}

// checkCitation checks one citation: the README exists (a bare README is the top-level one),
// and the section, when one is named, begins the text that follows.
func checkCitation(all map[string]doc, file, rest string) error {
	if !strings.HasSuffix(file, ".md") {
		if file != "README" {
			return fmt.Errorf("name the file in full: %s.md", file)
		}
		file = "README.md"
	}
	d, ok := all[file]
	if !ok {
		return fmt.Errorf("%s does not exist", file)
	}
	if rest == "" {
		return nil
	}
	for _, h := range d.headings {
		// A heading may be cited without its trailing parenthesis: "The first apply, step by step".
		short, _, _ := strings.Cut(h, " (")
		for _, h := range []string{h, short} {
			if after, ok := strings.CutPrefix(rest, h); ok && (after == "" || !isWordRune(after)) {
				return nil
			}
		}
	}
	return fmt.Errorf("no heading of %s begins the text after it (its headings: %s)", file, strings.Join(d.headings, "; "))
}

func isWordRune(s string) bool {
	r := []rune(s)[0]
	return unicode.IsLetter(r) || unicode.IsNumber(r)
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
