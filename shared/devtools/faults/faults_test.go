package faults

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobhooks/jobhooks/shared/devtools/emulator"
	"github.com/jobhooks/jobhooks/shared/instance"
	"github.com/jobhooks/jobhooks/shared/logging"
)

func TestMain(m *testing.M) { os.Exit(emulator.Main(m, emulator.Firestore)) }

func TestParse_ReadsWhatStringWrites(t *testing.T) {
	want := Spec{Functions: []string{"Dispatch", "Deliver"}, Store: 0.03, Publish: 0.05, Reads: 0.01, Seed: 7}
	got, err := Parse(want.String())
	if err != nil || got.String() != want.String() {
		t.Fatalf("Parse(%q) = %v, %v", want.String(), got, err)
	}
	for _, bad := range []string{"store=2", "publish=-0.1", "seed=x", "rate=0.1"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q): no error", bad)
		}
	}
}

// A commit failed after it succeeded was made: the invoker ran, and the caller gets the code.
func TestUnary_AFailureAfterTheCallMakesTheCallAndAnswersTheCode(t *testing.T) {
	var log bytes.Buffer
	in := NewInjector(Spec{Functions: []string{"Dispatch"}, Store: 1, Seed: 1}, 1, logging.New(&log, nil))
	before, after := 0, 0
	for range 200 {
		called := false
		err := in.Unary(context.Background(), methodCommit, &firestorepb.CommitRequest{Writes: []*firestorepb.Write{{
			Operation: &firestorepb.Write_Update{Update: &firestorepb.Document{Name: "projects/p/databases/(default)/documents/projects/demo/deliveries/d1"}},
		}}}, nil, nil, func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			called = true
			return nil
		})
		if c := status.Code(err); c != codes.Unavailable && c != codes.Aborted && c != codes.DeadlineExceeded {
			t.Fatalf("code %v, want a transient store failure", c)
		}
		if called {
			after++
		} else {
			before++
		}
	}
	if before < 50 || after < 50 {
		t.Errorf("%d failures before the call, %d after: want about half each", before, after)
	}
	faults, err := Read(&log)
	if err != nil || len(faults) != 200 {
		t.Fatalf("read %d logged faults (%v), want 200", len(faults), err)
	}
	if f := faults[0]; f.Call != "Commit" || len(f.Touched) != 1 || f.Touched[0] != "projects/demo/deliveries/d1" {
		t.Errorf("logged %+v: want the Commit and the document it wrote", f)
	}
}

func TestUnary_CallsOutsideTheSpecPassThrough(t *testing.T) {
	in := NewInjector(Spec{Functions: []string{"Dispatch"}, Store: 1, Seed: 1}, 1, logging.New(&bytes.Buffer{}, nil))
	for _, method := range []string{methodPublish, "/google.firestore.v1.Firestore/GetDocument"} {
		called := false
		err := in.Unary(context.Background(), method, nil, nil, nil, func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			called = true
			return nil
		})
		if err != nil || !called {
			t.Errorf("%s: err %v, called %v: want it untouched (publish share 0)", method, err, called)
		}
	}
}

// Through the real Firestore client and the emulator: the options replace the client's own
// connection, and a write answered with a failure after the call is in the database.
func TestClientOptions_TheRealFirestoreClientFailsAndStillWrites(t *testing.T) {
	emulator.Need(t)
	ctx := context.Background()
	var log bytes.Buffer
	in := NewInjector(Spec{Functions: []string{"Dispatch"}, Store: 1, Seed: 3}, 1, logging.New(&log, nil))
	opts, err := in.ClientOptions(instance.APIFirestore)
	if err != nil {
		t.Fatal(err)
	}
	faulty, err := firestore.NewClient(ctx, "faults-test", opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer faulty.Close()
	plain, err := firestore.NewClient(ctx, "faults-test")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	for i := range 20 {
		ref := faulty.Collection("faults").Doc("d" + string(rune('a'+i)))
		_, err := ref.Set(ctx, map[string]any{"n": i})
		if err == nil {
			continue // every attempt failed before the call until the client's retry got through
		}
		_, getErr := plain.Collection("faults").Doc(ref.ID).Get(ctx)
		written := getErr == nil
		if strings.Contains(err.Error(), "after the call succeeded") && !written {
			t.Errorf("%s: %v, but the document is not written", ref.ID, err)
		}
	}
	faults, _ := Read(&log)
	after := 0
	for _, f := range faults {
		if f.AfterCall {
			after++
		}
	}
	if after == 0 {
		t.Errorf("%d faults logged, none after a call", len(faults))
	}
}
