package task

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEncodeDecode_KeepsTheBodyByteForByte(t *testing.T) {
	body := []byte("{\"data\":\"line\\nbreak\"}\n\x00 trailing newline and NUL\n")
	in := Task{
		DeliveryID: "dlv_1", Project: "acme", EventID: "e\n1", EventType: "batch.succeeded",
		MessageID: "msg_1", EventTime: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC),
		URL: "https://x.example/h", Body: body, Generation: 2, Series: 1,
	}
	out, err := Decode(in.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Body, body) || out.EventID != "e\n1" || out.Generation != 2 || out.Series != 1 ||
		!out.EventTime.Equal(in.EventTime) || out.URL != in.URL || !out.Dynamic() {
		t.Errorf("round trip changed the task: %+v", out)
	}
}

func TestDecode_RejectsWhatIsNotATask(t *testing.T) {
	good := Task{DeliveryID: "dlv_1", Project: "acme", EventID: "e", MessageID: "m", Webhook: "wh", Body: []byte("{}")}
	badProject, badID, badWebhook := good, good, good
	badProject.Project, badID.DeliveryID, badWebhook.Webhook = "a/b", "__x__", "W/1"
	both := good
	both.URL = "https://x"
	neither := good
	neither.Webhook = ""
	noBody := good
	noBody.Body = nil
	cases := map[string][]byte{
		"no header line": []byte(`{"delivery_id":"d"}`),
		"not json":       []byte("nope\n{}"),
		"missing ids":    append([]byte(`{"project":"p"}`+"\n"), "{}"...),
		"both targets":   both.Encode(),
		"no target":      neither.Encode(),
		"empty body":     noBody.Encode(),
		// They name Firestore documents: a malformed one would fail every store call for days.
		"project a/b":    badProject.Encode(),
		"delivery __x__": badID.Encode(),
		"webhook W/1":    badWebhook.Encode(),
	}
	for name, data := range cases {
		if _, err := Decode(data); err == nil || !strings.HasPrefix(err.Error(), "task:") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := Decode(good.Encode()); err != nil {
		t.Errorf("good task: %v", err)
	}
}

// FuzzDecode checks that a task Decode accepts survives re-encoding, and that Decode reads the
// header line as json.Unmarshal reads it (decodeHead).
func FuzzDecode(f *testing.F) {
	f.Add(Task{DeliveryID: "dlv_1", Project: "acme", EventID: "e", MessageID: "m", Webhook: "wh", Body: []byte("{}")}.Encode())
	for _, head := range headCases {
		f.Add([]byte(head + "\n{}"))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		agreesWithEncodingJSON(t, data)
		tk, err := Decode(data)
		if err != nil {
			return
		}
		again, err := Decode(tk.Encode())
		if err != nil || !bytes.Equal(again.Body, tk.Body) || again.DeliveryID != tk.DeliveryID {
			t.Fatalf("re-encoding a decoded task changed it: %v", err)
		}
	})
}

// headCases are header lines at the edges of decodeHead: json.Unmarshal decides each.
var headCases = []string{
	`{"delivery_id":"dlv_1","project":"acme","event_id":"e","event_type":"t","message_id":"m","event_time":"2026-11-28T10:00:00.5+01:00","webhook":"wh","generation":2,"series":1,"queue_time":"2026-11-28T10:00:01Z"}`,
	` { "delivery_id" : "dlv_1" , "project":"acme","event_id":"e\n\u00e9","message_id":"m","url":"https://x.example/h","extra":{"a":[1,null]}} `,
	`{"delivery_id":"dlv_1","project":"acme","event_id":"e","message_id":"m","webhook":"wh","event_time":null,"generation":null}`,
	`{"delivery_id":"dlv_1","project":"acme","event_id":"e","message_id":"m","webhook":"wh","event_time":"2026-11-28T25:00:00Z"}`,
	`{"delivery_id":"dlv_1","project":"acme","event_id":"e","message_id":"m","webhook":"wh","event_time":"2026-11-28 10:00:00Z"}`,
	`{"delivery_id":"dlv_1","project":"acme","event_id":"e","message_id":"m","webhook":"wh","event_time":"2026-11-28T10:00:00\u005a"}`,
	`{"delivery_id":"dlv_1","project":"acme","event_id":"e","message_id":"m","webhook":"wh","event_time":1}`,
	`{"delivery_id":"dlv_1","project":"acme","event_id":"e","message_id":"m","webhook":"wh","event_time":{}}`,
	`{"delivery_id":"dlv_1","project":"acme","event_id":"e","message_id":"m","webhook":"wh","generation":1.5}`,
	`{"delivery_id":"dlv_1","project":"acme","event_id":"e","message_id":"m","webhook":"wh","generation":"1"}`,
	`{"delivery_id":"dlv_1","project":"acme","event_id":"e","message_id":"m","webhook":"wh","series":-1}`,
	`{"delivery_id":"dlv_1","project":"acme","event_id":"e","message_id":"m","webhook":"wh","webhook":null}`,
	`{"delivery_id":"dlv_1","project":"acme","event_id":"e","message_id":"m","webhook":"wh"} x`,
	`{"delivery_id":"dlv_1","project":"acme","event_id":"e","message_id":"m","webhook":"wh",}`,
	`{"delivery_id":"dlv_1","project":"acme","event_id":"e","message_id":"m","webhook":"wh\xff"}`,
	"{\"delivery_id\":\"dlv_1\",\"project\":\"acme\",\"event_id\":\"e\xff\",\"message_id\":\"m\",\"webhook\":\"wh\"}",
	`null`, `[]`, `{}`, ``,
}

// taskKeys are the header's keys, as Encode spells them.
var taskKeys = []string{"delivery_id", "project", "event_id", "event_type", "message_id", "event_time", "webhook", "url", "generation", "series", "queue_time"}

// agreesWithEncodingJSON fails t unless Decode reads data's header as json.Unmarshal does: both
// refuse it, or both read the same task. A header with a key json.Unmarshal would take for a
// field only because it ignores case (`Project`) is the one difference, on purpose.
func agreesWithEncodingJSON(t *testing.T, data []byte) {
	t.Helper()
	head, _, ok := bytes.Cut(data, []byte{'\n'})
	if !ok || foldsOntoAKey(head) {
		return
	}
	var want Task
	werr := json.Unmarshal(head, &want)
	var got Task
	err := decodeHead(head, &got)
	if (err == nil) != (werr == nil) {
		t.Fatalf("%q: decodeHead: %v; json.Unmarshal: %v", head, err, werr)
	}
	if err != nil {
		return
	}
	sameTimes := got.EventTime.Equal(want.EventTime) && got.QueueTime.Equal(want.QueueTime)
	got.EventTime, got.QueueTime, want.EventTime, want.QueueTime = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !sameTimes || !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: decodeHead read\n%+v\njson.Unmarshal read\n%+v", head, got, want)
	}
}

func foldsOntoAKey(head []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(head))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if key, ok := tok.(string); ok {
			for _, name := range taskKeys {
				if key != name && strings.EqualFold(key, name) {
					return true
				}
			}
		}
	}
}

func TestDecode_ReadsTheHeaderAsEncodingJSONDoes(t *testing.T) {
	for _, head := range headCases {
		agreesWithEncodingJSON(t, []byte(head+"\n{}"))
	}
}

func TestDecode_AHeaderThatDoesNotParseNamesNothing(t *testing.T) {
	tk, err := Decode([]byte(`{"delivery_id":"dlv_1","project":"acme",x` + "\n{}"))
	if err == nil || tk.DeliveryID != "" || tk.Project != "" {
		t.Errorf("got %+v, %v; want an error and nothing read before it (it would name a span)", tk, err)
	}
}
