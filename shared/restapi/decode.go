package restapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jobhooks/jobhooks/shared/management"
)

// MaxBody is the largest request body accepted (shared/restapi/README.md, Limits and rules).
const MaxBody = 1 << 20

func badRequest(format string, args ...any) error {
	return management.Errorf(management.InvalidArgument, format, args...)
}

// readBody reads the whole body, refusing one above MaxBody.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, badRequest("the request body is larger than 1 MiB")
	}
	if err != nil {
		return nil, badRequest("the request body could not be read")
	}
	return b, nil
}

// readObject reads the body of r and decodes it as decodeObject does.
func readObject(r *http.Request, v any, optional bool) (map[string]bool, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return decodeObject(body, v, optional)
}

// decodeObject decodes a JSON object body into v, whose json tags list every member it knows,
// and returns the members present. Any other member is refused (a typo must not be silently
// ignored), and so is anything after the object. An empty or null body is {} when optional.
func decodeObject(body []byte, v any, optional bool) (map[string]bool, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		if optional {
			return map[string]bool{}, nil
		}
		return nil, badRequest("the request body is empty; want a JSON object")
	}
	if trimmed[0] != '{' {
		return nil, badRequest("the request body must be a JSON object")
	}
	var members map[string]json.RawMessage
	if err := strictDecode(trimmed, &members); err != nil {
		return nil, err
	}
	known := jsonNames(v)
	present := make(map[string]bool, len(members))
	for name := range members {
		if !slices.Contains(known, name) {
			return nil, unknownField(name, v, known)
		}
		present[name] = true
	}
	if err := strictDecode(trimmed, v); err != nil {
		return nil, err
	}
	return present, nil
}

// echoesOutput is a request type that accepts the output-only members of what the API answers
// and ignores them (AIP-203): a client may send back what it read.
type echoesOutput interface {
	outputOnly() []string
}

// unknownField is the error for a member name that v has no field for: the fields a request
// sets, the nearest of them when name looks like a typo of one, and the output-only ones apart.
func unknownField(name string, v any, known []string) error {
	if len(known) == 0 {
		return badRequest("unknown field %q in the request body: this method takes an empty body or {}", truncate(name))
	}
	var ignored []string
	if e, ok := v.(echoesOutput); ok {
		ignored = e.outputOnly()
	}
	settable := slices.DeleteFunc(slices.Clone(known), func(k string) bool { return slices.Contains(ignored, k) })
	hint := ""
	if near := nearest(name, settable); near != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", near)
	}
	msg := fmt.Sprintf("unknown field %q in the request body%s; known fields: %s", truncate(name), hint, strings.Join(settable, ", "))
	if len(ignored) > 0 {
		msg += fmt.Sprintf("; the output-only fields (%s) are accepted and ignored, per AIP-203", strings.Join(ignored, ", "))
	}
	return badRequest("%s", msg)
}

// nearest is the one of names within two edits of name (a typo, a dropped plural, url for
// uri), or "" when none or more than one is that near.
func nearest(name string, names []string) string {
	if len(name) > 64 {
		return ""
	}
	best, bestDist, ties := "", 3, 0
	for _, n := range names {
		switch d := editDistance(name, n); {
		case d < bestDist:
			best, bestDist, ties = n, d, 0
		case d == bestDist:
			ties++
		}
	}
	if ties > 0 {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if dec.More() {
		return badRequest("the request body has content after the JSON object")
	}
	return nil
}

// jsonProblem turns a decoding error into a sentence naming the field.
func jsonProblem(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return badRequest("the request body is not valid JSON: %s (at byte %d)", syntax.Error(), syntax.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the request body"
		}
		return badRequest("%s must be %s, not %s", field, describe(typ.Type), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("the request body is not valid JSON: it ends too early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badRequest("unknown field %s in the request body", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return badRequest("the request body is not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
}

// describe names a Go type the way a JSON user thinks of it.
func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a " + t.Kind().String()
}

// jsonNames lists the json member names of the struct v points to, those of embedded structs in
// their place.
func jsonNames(v any) []string {
	var names []string
	for _, f := range reflect.VisibleFields(reflect.TypeOf(v).Elem()) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" && !f.Anonymous {
			names = append(names, name)
		}
	}
	return names
}

// fieldNames maps a surface's names of settable fields to the service's, and lists the names the
// surface shows but never takes (output only).
type fieldNames struct {
	settable   map[string]management.Field
	outputOnly []string
}

// fields returns what a PATCH changes (AIP-134): the update_mask's paths when given ("*" for every
// settable field), otherwise the settable members present in the body. A mask path that is
// output only or unknown is refused; output-only members of a body without a mask are ignored.
func (n fieldNames) fields(r *http.Request, present map[string]bool) ([]management.Field, error) {
	q := r.URL.Query()
	raw, masked := q["update_mask"]
	if !masked {
		raw, masked = q["updateMask"]
	}
	var out []management.Field
	add := func(f management.Field) {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if !masked {
		for name := range present {
			if f, ok := n.settable[name]; ok {
				add(f)
			}
		}
		slices.Sort(out)
		return out, nil
	}
	for _, path := range strings.Split(strings.Join(raw, ","), ",") {
		path = snake(strings.TrimSpace(path))
		switch {
		case path == "":
		case path == "*":
			for _, f := range n.settable {
				add(f)
			}
		case slices.Contains(n.outputOnly, path):
			return nil, badRequest("update_mask: %s is output only and cannot be updated", path)
		default:
			f, ok := n.settable[path]
			if !ok {
				return nil, badRequest("update_mask: %q is not a field of a webhook that can be updated (%s)", truncate(path), n.settableList())
			}
			add(f)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (n fieldNames) settableList() string {
	var names []string
	for name := range n.settable {
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// snake turns a lowerCamelCase mask path (proto JSON's spelling) into snake_case.
func snake(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsUpper(r) {
			b.WriteByte('_')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// pageSize reads the page_size query parameter (0 when absent).
func pageSize(r *http.Request) (int, error) {
	raw := r.URL.Query().Get("page_size")
	if raw == "" {
		raw = r.URL.Query().Get("pageSize")
	}
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, badRequest("page_size %q is not an integer", truncate(raw))
	}
	return n, nil
}

func pageToken(r *http.Request) string {
	if t := r.URL.Query().Get("page_token"); t != "" {
		return t
	}
	return r.URL.Query().Get("pageToken")
}

// enum reads an enum value in any letter case: Surface A's values are upper-case and Surface B's
// lower-case, and a caller of either may use the other's spelling. An unspecified value (the
// proto's ..._UNSPECIFIED) and "" give "". values is keyed by the lower-case spelling; upper
// says how the error message spells them.
func enum[T ~string](field, raw string, values map[string]T, upper bool) (T, error) {
	if raw == "" || strings.HasSuffix(strings.ToUpper(raw), "_UNSPECIFIED") {
		return "", nil
	}
	if v, ok := values[strings.ToLower(raw)]; ok {
		return v, nil
	}
	var names []string
	for name := range values {
		if upper {
			name = strings.ToUpper(name)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return "", badRequest("%s: %q is not one of %s", field, truncate(raw), strings.Join(names, ", "))
}

// timestamp reads an RFC 3339 time of the request body.
func timestamp(field, raw string) (time.Time, error) {
	if raw == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return time.Time{}, badRequest("%s: %q is not an RFC 3339 time like 2026-01-02T15:04:05Z", field, truncate(raw))
	}
	return t, nil
}

// ts formats a time as RFC 3339 in UTC; "" for the zero time (omitted from the JSON).
func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:61] + "..."
}
