package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

// valid reports whether the Scanner takes b as one JSON document.
func valid(b []byte) bool {
	s := New(b)
	return s.Skip() == nil && s.End() == nil
}

// syntaxCases are documents at the edges of JSON's grammar; json.Valid decides each.
func syntaxCases() []string {
	return []string{
		`{}`, `[]`, `""`, `0`, `-0`, `1.5e+10`, `-2.5E-3`, `true`, `false`, `null`, " \t\r\n{} \n",
		`{"a":[1,-2.5e+3,0.0,true,false,null,{"y":[]},"\"\\\/\b\f\n\r\t\u00FF\uD800"]}`,
		`01`, `1.`, `.5`, `1e`, `1e+`, `-`, `+1`, `0x1`, `1_000`, `NaN`, `Infinity`,
		`tru`, `nulls`, `True`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `{"a":1 "b":2}`, `[1 2]`,
		`"\x"`, `"\u12g4"`, `"\u12"`, "\"tab\there\"", "\"\x00\"", "\"\xff\"", "\"\xc3(\"", `"é"`,
		`{}x`, `{}{}`, `{`, `[`, `"`, `"\`, `{"a"`, `{"a":`, ``, " ", "\ufeff{}", "{}\x00",
		strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth),
		strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
		strings.Repeat(`{"a":`, MaxDepth) + "1" + strings.Repeat("}", MaxDepth),
		strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1),
	}
}

func TestSkip_AcceptsExactlyWhatEncodingJSONAccepts(t *testing.T) {
	for _, doc := range syntaxCases() {
		if got, want := valid([]byte(doc)), json.Valid([]byte(doc)); got != want {
			t.Errorf("%.60q: Scanner says valid %v, json.Valid %v", doc, got, want)
		}
	}
}

// FuzzSkip checks the Scanner's grammar against encoding/json's on any input.
func FuzzSkip(f *testing.F) {
	for _, doc := range syntaxCases() {
		if len(doc) < 1000 { // the deep ones would slow every mutation
			f.Add([]byte(doc))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := valid(b), json.Valid(b); got != want {
			t.Fatalf("%q: Scanner says valid %v, json.Valid %v", b, got, want)
		}
	})
}

func TestText_UnquotesAsEncodingJSONDoes(t *testing.T) {
	for _, doc := range []string{`"plain"`, `"a\"b\\c\/d\u00e9\ud83d\ude00"`, "\"\xff\"", `"\ud800"`, `"é"`, `""`} {
		var want string
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatal(err)
		}
		got, err := New([]byte(doc)).Text()
		if err != nil || string(got) != want {
			t.Errorf("%q: Text %q, %v; encoding/json %q", doc, got, err, want)
		}
	}
}

func TestLiteral_IsTheStringAsItStands(t *testing.T) {
	s := New([]byte(` "2026-11-28T10:00:00Z\n" , 1`))
	lit, err := s.Literal()
	if err != nil || string(lit) != `"2026-11-28T10:00:00Z\n"` {
		t.Errorf("Literal %q, %v", lit, err)
	}
}
