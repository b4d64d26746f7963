package emulator

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
)

// TestStart_APickedPortTakenBeforeTheEmulatorBindsItIsPickedAgain: a port Start picked can be
// taken by another process (another test package's emulator) before the JVM binds it; Start then
// starts the emulator on another port instead of failing.
func TestStart_APickedPortTakenBeforeTheEmulatorBindsItIsPickedAgain(t *testing.T) {
	NeedGcloud(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	picks := 0
	freePort = func() (int, error) {
		if picks++; picks == 1 {
			return takenPort, nil
		}
		return FreePort()
	}
	defer func() { freePort = FreePort }()

	// Firestore's JVM exits when its port is taken; Pub/Sub's lives on without serving.
	for _, kind := range []Kind{Firestore, PubSub} {
		picks = 0
		e, err := Start(context.Background(), kind, Options{})
		if err != nil {
			t.Fatalf("%s: Start with a first pick that was taken: %v", kind, err)
		}
		e.Kill()
		if picks < 2 || strings.HasSuffix(e.Host, ":"+strconv.Itoa(takenPort)) {
			t.Errorf("%s: the emulator ran on %s after %d picks; the taken port was %d", kind, e.Host, picks, takenPort)
		}
	}
}
