package pushmsg

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Every push Jobhooks handles starts by reading this envelope, so it is read in one pass, by
// hand, instead of by encoding/json's reflection: encoding/json scans the whole body twice (it
// validates it, then decodes it) and copies the base64 data once more before decoding it, which
// was about half of Deliver's own CPU per delivery (README, Targets the benchmarks report).
//
// The result is encoding/json's, field for field, for every body whose keys are spelt exactly as
// Pub/Sub spells them (FuzzDecode_AgreesWithEncodingJSON checks it): the same syntax is accepted
// and refused, a duplicated key keeps the last value (objects merge into the earlier one), null
// clears data and attributes and leaves strings and numbers as they were, an attribute's null
// value is "", and a string with escapes or non-ASCII bytes is unquoted by encoding/json itself.
// Unlike encoding/json, a key that differs from Pub/Sub's only in case (`MessageID`) is ignored.

// envelope is the push body: {"message":{...},"subscription":"...","deliveryAttempt":N}.
type envelope struct {
	message         *message
	subscription    string
	deliveryAttempt int
}

type message struct {
	data        []byte
	attributes  map[string]string
	messageID   string
	messageID2  string // message_id, the same id under its other name
	publishTime string
}

// maxDepth is encoding/json's nesting limit, kept so that both refuse the same bodies.
const maxDepth = 10000

// parseEnvelope reads body as one JSON object and keeps the fields of a push envelope.
func parseEnvelope(body []byte) (envelope, error) {
	s := scanner{b: body}
	var env envelope
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "message":
			if s.null() {
				env.message = nil
				return nil
			}
			if env.message == nil {
				env.message = &message{}
			}
			return s.object(func(key []byte) error { return s.messageField(env.message, key) })
		case "subscription":
			return s.stringInto(&env.subscription)
		case "deliveryAttempt":
			return s.intInto(&env.deliveryAttempt)
		}
		return s.skip()
	})
	if err != nil {
		return envelope{}, err
	}
	if s.ws(); s.i < len(s.b) {
		return envelope{}, s.errorf("invalid character %q after top-level value", s.b[s.i])
	}
	return env, nil
}

func (s *scanner) messageField(m *message, key []byte) error {
	switch string(key) {
	case "data":
		if s.null() {
			m.data = nil
			return nil
		}
		text, err := s.str()
		if err != nil {
			return err
		}
		m.data = make([]byte, base64.StdEncoding.DecodedLen(len(text)))
		n, err := base64.StdEncoding.Decode(m.data, text)
		if err != nil {
			return fmt.Errorf("data: %w", err)
		}
		m.data = m.data[:n]
		return nil
	case "attributes":
		if s.null() {
			m.attributes = nil
			return nil
		}
		if m.attributes == nil {
			m.attributes = map[string]string{}
		}
		return s.object(func(key []byte) error {
			var v string
			if err := s.stringInto(&v); err != nil {
				return err
			}
			m.attributes[string(key)] = v
			return nil
		})
	case "messageId":
		return s.stringInto(&m.messageID)
	case "message_id":
		return s.stringInto(&m.messageID2)
	case "publishTime":
		return s.stringInto(&m.publishTime)
	}
	return s.skip()
}

// scanner reads JSON from b, at i.
type scanner struct {
	b     []byte
	i     int
	depth int
}

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: "+format, append([]any{s.i}, args...)...)
}

var errEnd = errors.New("unexpected end of JSON input")

// ws skips whitespace.
func (s *scanner) ws() {
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
func (s *scanner) peek() byte {
	if s.ws(); s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// null consumes a null literal if one is next.
func (s *scanner) null() bool {
	if s.peek() == 'n' && s.literal("null") == nil {
		return true
	}
	return false
}

func (s *scanner) literal(word string) error {
	if len(s.b)-s.i < len(word) {
		return errEnd
	}
	if string(s.b[s.i:s.i+len(word)]) != word {
		return s.errorf("invalid literal")
	}
	s.i += len(word)
	return nil
}

// object reads an object, calling field with each key once the scanner stands before its value;
// field must read the value.
func (s *scanner) object(field func(key []byte) error) error {
	if c := s.peek(); c != '{' {
		return s.unexpected(c, "object")
	}
	if s.depth++; s.depth > maxDepth {
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
		key, err := s.str()
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

func (s *scanner) unexpected(c byte, want string) error {
	if s.i >= len(s.b) {
		return errEnd
	}
	return s.errorf("invalid character %q looking for %s", c, want)
}

// str reads a string and returns its text. Plain ASCII without escapes, what Pub/Sub sends, is
// returned as a slice of b; anything else is unquoted by encoding/json, so that escapes and
// invalid UTF-8 come out exactly as encoding/json makes them.
func (s *scanner) str() ([]byte, error) {
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
func (s *scanner) escape() error {
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

// stringInto reads a string into v; null leaves v as it was.
func (s *scanner) stringInto(v *string) error {
	if s.null() {
		return nil
	}
	text, err := s.str()
	if err != nil {
		return err
	}
	*v = string(text)
	return nil
}

// intInto reads an integer into v; null leaves v as it was. A fraction, an exponent or a number
// out of int's range is refused, as encoding/json refuses it.
func (s *scanner) intInto(v *int) error {
	if s.null() {
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
func (s *scanner) number() error {
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

func (s *scanner) digits() {
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
}

func (s *scanner) someDigits() error {
	start := s.i
	if s.digits(); s.i == start {
		if s.i >= len(s.b) {
			return errEnd
		}
		return s.errorf("invalid character %q in numeric literal", s.b[s.i])
	}
	return nil
}

// skip reads any value and checks its syntax: a field Jobhooks does not use must still be JSON.
func (s *scanner) skip() error {
	switch c := s.peek(); {
	case c == '{':
		return s.object(func([]byte) error { return s.skip() })
	case c == '[':
		return s.array()
	case c == '"':
		_, err := s.str()
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

func (s *scanner) array() error {
	if s.depth++; s.depth > maxDepth {
		return s.errorf("exceeded max depth")
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		s.depth--
		return nil
	}
	for {
		if err := s.skip(); err != nil {
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
