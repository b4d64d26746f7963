package pushmsg

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/jsonscan"
)

// byEncodingJSON is Decode as it was written with encoding/json, the reference the hand-written
// envelope reader must agree with (envelope.go).
func byEncodingJSON(body []byte) (Message, error) {
	var env struct {
		Message *struct {
			Data        []byte            `json:"data"`
			Attributes  map[string]string `json:"attributes"`
			MessageID   string            `json:"messageId"`
			MessageID2  string            `json:"message_id"`
			PublishTime string            `json:"publishTime"`
		} `json:"message"`
		Subscription    string `json:"subscription"`
		DeliveryAttempt int    `json:"deliveryAttempt"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return Message{}, err
	}
	if env.Message == nil {
		return Message{}, errors.New("no message field")
	}
	m := Message{
		Data: env.Message.Data, Attributes: env.Message.Attributes, MessageID: env.Message.MessageID,
		Subscription: env.Subscription, DeliveryAttempt: env.DeliveryAttempt,
	}
	if m.MessageID == "" {
		m.MessageID = env.Message.MessageID2
	}
	if m.MessageID == "" {
		return Message{}, errors.New("no messageId")
	}
	if t, err := time.Parse(time.RFC3339Nano, env.Message.PublishTime); err == nil {
		m.PublishTime = t
	}
	if m.Attributes == nil {
		m.Attributes = map[string]string{}
	}
	return m, nil
}

// fieldNames are the keys the envelope reader knows, at any level.
var fieldNames = []string{"message", "subscription", "deliveryAttempt", "data", "attributes", "messageId", "message_id", "publishTime"}

// differsOnPurpose reports whether body holds one of the two things the envelope reader reads
// otherwise than encoding/json, on purpose (envelope.go): a key that encoding/json takes for a
// field only because it ignores case (`MessageID`, or `ſubscription` by Unicode folding), or a
// `data` given as an array of byte values rather than base64 text.
func differsOnPurpose(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	afterData := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if afterData && tok == json.Delim('[') {
			return true
		}
		key, _ := tok.(string)
		afterData = key == "data"
		for _, name := range fieldNames {
			if key != "" && key != name && strings.EqualFold(key, name) {
				return true
			}
		}
	}
}

// agreesWithEncodingJSON fails t unless Decode and encoding/json accept the same body and read
// the same message from it.
func agreesWithEncodingJSON(t *testing.T, body []byte) {
	t.Helper()
	if len(body) > MaxEnvelope || differsOnPurpose(body) {
		return
	}
	got, err := Decode(newPush(body))
	want, werr := byEncodingJSON(body)
	if (err == nil) != (werr == nil) {
		t.Fatalf("Decode: %v; encoding/json: %v", err, werr)
	}
	if err != nil {
		return
	}
	if !bytes.Equal(got.Data, want.Data) || !maps.Equal(got.Attributes, want.Attributes) ||
		got.MessageID != want.MessageID || !got.PublishTime.Equal(want.PublishTime) ||
		got.Subscription != want.Subscription || got.DeliveryAttempt != want.DeliveryAttempt {
		t.Fatalf("Decode read\n%+v\nencoding/json read\n%+v", got, want)
	}
}

func TestDecode_AgreesWithEncodingJSON(t *testing.T) {
	for _, body := range envelopeCases() {
		t.Run(body, func(t *testing.T) { agreesWithEncodingJSON(t, []byte(body)) })
	}
}

// envelopeCases are bodies at the edges of the hand-written reader: what encoding/json decides
// for each is the expected answer.
func envelopeCases() []string {
	deep := strings.Repeat("[", jsonscan.MaxDepth-1) + strings.Repeat("]", jsonscan.MaxDepth-1)
	tooDeep := strings.Repeat("[", jsonscan.MaxDepth) + strings.Repeat("]", jsonscan.MaxDepth)
	return []string{
		pushed,
		` {"message" : { "data" : "e30=" , "messageId" : "1" } } ` + "\n",
		`{"message":{"data":"e3\/0=","messageId":"\u0031"}}`,
		`{"message":{"data":"e30=","messageId":"1","attributes":{"k\u00e9":"v\n","\ud800":"\udc00x","l":"é"}}}`,
		`{"message":{"data":"e30=","messageId":"1","attributes":{"a":null,"b":"2"}}}`,
		`{"message":{"data":"e30=","messageId":"1","attributes":{"a":"1"},"attributes":{"b":"2"}}}`,
		`{"message":{"data":"e30=","messageId":"1","attributes":{"a":"1"},"attributes":null}}`,
		`{"message":{"data":"e30=","messageId":"1"},"message":{"messageId":"2"}}`,
		`{"message":{"data":"e30=","messageId":"1"},"message":null,"message":{"messageId":"2"}}`,
		`{"message":{"data":"e30=","messageId":"1","data":null}}`,
		`{"message":{"data":"","messageId":"1","messageId":null}}`,
		`{"message":{"data":"e30","messageId":"1"}}`,
		`{"message":{"data":"e3 0=","messageId":"1"}}`,
		"{\"message\":{\"data\":\"e3\\r\\n0=\",\"messageId\":\"1\"}}",
		`{"message":{"data":5,"messageId":"1"}}`,
		`{"message":{"data":{},"messageId":"1"}}`,
		`{"message":{"messageId":1}}`,
		`{"message":{"messageId":"1","publishTime":7}}`,
		`{"message":{"messageId":"1","attributes":{"a":1}}}`,
		`{"message":{"messageId":"1","attributes":[]}}`,
		`{"message":{"messageId":"1"},"deliveryAttempt":-0}`,
		`{"message":{"messageId":"1"},"deliveryAttempt":7,"deliveryAttempt":null}`,
		`{"message":{"messageId":"1"},"deliveryAttempt":1.0}`,
		`{"message":{"messageId":"1"},"deliveryAttempt":1e2}`,
		`{"message":{"messageId":"1"},"deliveryAttempt":"3"}`,
		`{"message":{"messageId":"1"},"deliveryAttempt":92233720368547758070}`,
		`{"message":{"messageId":"1"},"deliveryAttempt":01}`,
		`{"message":{"messageId":"1"},"deliveryAttempt":-}`,
		`{"message":{"messageId":"1"},"x":[1,-2.5e+3,0.0,true,false,null,{"y":[]},"\"\\\/\b\f\n\r\t\u00FF"]}`,
		`{"message":{"messageId":"1"},"x":[1,]}`,
		`{"message":{"messageId":"1"},"x":{"a":1,}}`,
		`{"message":{"messageId":"1"},"x":01}`,
		`{"message":{"messageId":"1"},"x":1.}`,
		`{"message":{"messageId":"1"},"x":.5}`,
		`{"message":{"messageId":"1"},"x":1e}`,
		`{"message":{"messageId":"1"},"x":tru}`,
		`{"message":{"messageId":"1"},"x":nulls}`,
		`{"message":{"messageId":"1"},"x":"\x"}`,
		`{"message":{"messageId":"1"},"x":"\u12g4"}`,
		"{\"message\":{\"messageId\":\"1\"},\"x\":\"tab\there\"}",
		"{\"message\":{\"messageId\":\"1\\xff\"}}",
		"{\"message\":{\"messageId\":\"1\xff\"}}",
		"{\"message\":{\"messageId\":\"1\xc3(\x80\"}}",
		`{"message":{"messageId":"1"},"x":` + deep + `}`,
		`{"message":{"messageId":"1"},"x":` + tooDeep + `}`,
		`{"message":{"messageId":"1"}}x`,
		`{"message":{"messageId":"1"}}{}`,
		`{"message":{"messageId":"1"}`,
		`{"message":{"messageId":"1"},}`,
		`{"message" {"messageId":"1"}}`,
		`{"message":{"messageId":"1"} "x":1}`,
		`{message:{"messageId":"1"}}`,
		`{"message":{"messageId":"1"}}` + "\x00",
		"\ufeff" + `{"message":{"messageId":"1"}}`,
		`null`,
		`[]`,
		`"x"`,
		``,
		`{`,
		`{"`,
		`{"message":{"messageId":"`,
		`{"message":{"messageId":"1\`,
		`{"message":{"messageId":"1\u00`,
		`{"message":{"data":nul`,
	}
}

// newPush is a push request with body.
func newPush(body []byte) *http.Request {
	return httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
}

func TestDecode_DataIsBase64TextOnly(t *testing.T) {
	for _, body := range []string{`{"message":{"data":[104,105],"messageId":"1"}}`, `{"message":{"data":[],"messageId":"1"}}`} {
		if _, err := Decode(newPush([]byte(body))); !errors.Is(err, ErrBadEnvelope) {
			t.Errorf("%s: %v, want ErrBadEnvelope (encoding/json took an array of bytes; Pub/Sub sends base64)", body, err)
		}
		if !differsOnPurpose([]byte(body)) {
			t.Errorf("%s: the differential check does not know it differs on purpose", body)
		}
	}
}
