package task

import (
	"bytes"
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

func FuzzDecode(f *testing.F) {
	f.Add(Task{DeliveryID: "dlv_1", Project: "acme", EventID: "e", MessageID: "m", Webhook: "wh", Body: []byte("{}")}.Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
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
