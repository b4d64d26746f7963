// Package jsonscan reads JSON in one pass, by hand, for the two documents every delivery starts
// with: the Pub/Sub push envelope and the delivery task's header. encoding/json's reflection
// scans a document twice (it validates it, then decodes it) and copies every string once more;
// on those two documents it was about half of Deliver's own CPU per delivery
// (shared/devtools/README.md, Targets the benchmarks report).
//
// A Scanner accepts and refuses exactly what encoding/json does (FuzzSkip checks it against
// json.Valid), and its callers read values as encoding/json would into the same Go types (their
// own differential tests check it): a string with escapes or non-ASCII bytes is unquoted by
// encoding/json itself, so escapes and invalid UTF-8 come out alike.
package jsonscan

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// MaxDepth is encoding/json's nesting limit, kept so that both refuse the same documents.
const MaxDepth = 10000

// New returns a Scanner of b.
func New(b []byte) *Scanner { return &Scanner{b: b} }

// Scanner reads one JSON document from b, at i.
type Scanner struct {
	b     []byte
	i     int
	depth int
}

func (s *Scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: "+format, append([]any{s.i}, args...)...)
}

var errEnd = errors.New("unexpected end of JSON input")

// ws skips whitespace.
func (s *Scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte, or 0 at the end.
func (s *Scanner) peek() byte {
	if s.ws(); s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// Null consumes a null literal if one is next.
func (s *Scanner) Null() bool {
	if s.peek() == 'n' && s.literal("null") == nil {
		return true
	}
	return false
}

func (s *Scanner) literal(word string) error {
	if len(s.b)-s.i < len(word) {
		return errEnd
	}
	if string(s.b[s.i:s.i+len(word)]) != word {
		return s.errorf("invalid literal")
	}
	s.i += len(word)
	return nil
}

// Object reads an object, calling field with each key once the scanner stands before its value;
// field must read the value.
func (s *Scanner) Object(field func(key []byte) error) error {
	if c := s.peek(); c != '{' {
		return s.unexpected(c, "object")
	}
	if s.depth++; s.depth > MaxDepth {
		return s.errorf("exceeded max depth")
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		s.depth--
		return nil
	}
	for {
		if c := s.peek(); c != '"' {
			return s.unexpected(c, "object key")
		}
		key, err := s.Text()
		if err != nil {
			return err
		}
		if c := s.peek(); c != ':' {
			return s.unexpected(c, "':' after object key")
		}
		s.i++
		if err := field(key); err != nil {
			return err
		}
		switch c := s.peek(); c {
		case ',':
			s.i++
		case '}':
			s.i++
			s.depth--
			return nil
		default:
			return s.unexpected(c, "',' or '}' after object value")
		}
	}
}

func (s *Scanner) unexpected(c byte, want string) error {
	if s.i >= len(s.b) {
		return errEnd
	}
	return s.errorf("invalid character %q looking for %s", c, want)
}

// Text reads a string and returns its text. Plain ASCII without escapes, what Pub/Sub sends, is
// returned as a slice of b; anything else is unquoted by encoding/json, so that escapes and
// invalid UTF-8 come out exactly as encoding/json makes them.
func (s *Scanner) Text() ([]byte, error) {
	if c := s.peek(); c != '"' {
		return nil, s.unexpected(c, "string")
	}
	start := s.i
	plain := true
	for s.i++; s.i < len(s.b); s.i++ {
		for s.i < len(s.b) && plainByte[s.b[s.i]] {
			s.i++
		}
		if s.i >= len(s.b) {
			break
		}
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			if plain {
				return s.b[start+1 : s.i-1], nil
			}
			var text string
			if err := json.Unmarshal(s.b[start:s.i], &text); err != nil {
				return nil, err
			}
			return []byte(text), nil
		case c < 0x20:
			return nil, s.errorf("invalid character %q in string literal", c)
		case c == '\\':
			plain = false
			if err := s.escape(); err != nil {
				return nil, err
			}
		default: // c >= 0x80
			plain = false
		}
	}
	return nil, errEnd
}

// plainByte holds the bytes a string returns as they are: printable ASCII but '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// escape checks the escape sequence at i (its backslash) and leaves i on its last byte.
func (s *Scanner) escape() error {
	if s.i+1 >= len(s.b) {
		return errEnd
	}
	s.i++
	switch s.b[s.i] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return nil
	case 'u':
		for range 4 {
			if s.i+1 >= len(s.b) {
				return errEnd
			}
			s.i++
			if !isHex(s.b[s.i]) {
				return s.errorf("invalid character %q in \\u hexadecimal character escape", s.b[s.i])
			}
		}
		return nil
	}
	return s.errorf("invalid character %q in string escape code", s.b[s.i])
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// StringInto reads a string into v; null leaves v as it was.
func (s *Scanner) StringInto(v *string) error {
	if s.Null() {
		return nil
	}
	text, err := s.Text()
	if err != nil {
		return err
	}
	*v = string(text)
	return nil
}

// IntInto reads an integer into v; null leaves v as it was. A fraction, an exponent or a number
// out of int's range is refused, as encoding/json refuses it.
func (s *Scanner) IntInto(v *int) error {
	if s.Null() {
		return nil
	}
	if c := s.peek(); c != '-' && (c < '0' || c > '9') {
		return s.unexpected(c, "an integer")
	}
	start := s.i
	if err := s.number(); err != nil {
		return err
	}
	n, err := strconv.ParseInt(string(s.b[start:s.i]), 10, strconv.IntSize)
	if err != nil {
		return fmt.Errorf("cannot unmarshal number %s into an integer", s.b[start:s.i])
	}
	*v = int(n)
	return nil
}

// number reads a number as JSON's grammar has it: -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?
func (s *Scanner) number() error {
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i >= len(s.b):
		return errEnd
	case s.b[s.i] == '0':
		s.i++
	case '1' <= s.b[s.i] && s.b[s.i] <= '9':
		s.digits()
	default:
		return s.errorf("invalid character %q in numeric literal", s.b[s.i])
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if err := s.someDigits(); err != nil {
			return err
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if err := s.someDigits(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Scanner) digits() {
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
}

func (s *Scanner) someDigits() error {
	start := s.i
	if s.digits(); s.i == start {
		if s.i >= len(s.b) {
			return errEnd
		}
		return s.errorf("invalid character %q in numeric literal", s.b[s.i])
	}
	return nil
}

// Skip reads any value and checks its syntax: a field Jobhooks does not use must still be JSON.
func (s *Scanner) Skip() error {
	switch c := s.peek(); {
	case c == '{':
		return s.Object(func([]byte) error { return s.Skip() })
	case c == '[':
		return s.array()
	case c == '"':
		_, err := s.Text()
		return err
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	default:
		return s.unexpected(c, "beginning of value")
	}
}

func (s *Scanner) array() error {
	if s.depth++; s.depth > MaxDepth {
		return s.errorf("exceeded max depth")
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		s.depth--
		return nil
	}
	for {
		if err := s.Skip(); err != nil {
			return err
		}
		switch c := s.peek(); c {
		case ',':
			s.i++
		case ']':
			s.i++
			s.depth--
			return nil
		default:
			return s.unexpected(c, "',' or ']' after array element")
		}
	}
}

// End checks that nothing but whitespace follows the document's value.
func (s *Scanner) End() error {
	if s.ws(); s.i < len(s.b) {
		return s.errorf("invalid character %q after top-level value", s.b[s.i])
	}
	return nil
}

// Literal reads a string and returns it as it stands in the document, quotes and escapes
// included, for a type that unquotes its own JSON (time.Time.UnmarshalJSON).
func (s *Scanner) Literal() ([]byte, error) {
	s.peek()
	start := s.i
	if _, err := s.Text(); err != nil {
		return nil, err
	}
	return s.b[start:s.i], nil
}
