package devstack

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jobhooks/jobhooks/shared/devtools/emulator"
)

// The test binary doubles as a function process: with listenEnv set it serves PORT the way
// funcframework.Start does, failing when the port is taken.
const listenEnv = "JOBHOOKS_DEVSTACK_TEST_LISTEN"

func TestMain(m *testing.M) {
	switch os.Getenv(listenEnv) {
	case "":
	case "fail":
		os.Stderr.WriteString("config: JOBHOOKS_SOMETHING is not valid\n")
		os.Exit(1)
	default:
		l, err := net.Listen("tcp", ":"+os.Getenv("PORT"))
		if err != nil {
			os.Stderr.WriteString("funcframework.Start: " + err.Error() + "\n")
			os.Exit(1)
		}
		_ = http.Serve(l, http.NotFoundHandler())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A port can be taken between the pick and the bind (under load, by any process's outgoing
// connection): the function is started again on another port, not reported as "exited at start".
func TestLaunchChild_AFunctionWhosePortWasTakenStartsOnAnother(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	picks := 0
	freePort = func() (int, error) {
		if picks++; picks == 1 {
			return taken.Addr().(*net.TCPAddr).Port, nil
		}
		return emulator.FreePort()
	}
	t.Cleanup(func() { freePort = emulator.FreePort })
	bin, _ := os.Executable()
	logPath := filepath.Join(t.TempDir(), "fn.log")
	c, err := launchChild(context.Background(), "Fn", bin, []string{listenEnv + "=1"}, logPath)
	if err != nil {
		t.Fatalf("launch: %v", err)
	}
	defer c.stop()
	if c.port == taken.Addr().(*net.TCPAddr).Port || picks != 2 {
		t.Errorf("listening on %d after %d picks; want the second pick, not the taken port", c.port, picks)
	}
	if b, _ := os.ReadFile(logPath); !strings.Contains(string(b), "address already in use") {
		t.Errorf("the first start did not meet the taken port: %q", b)
	}
}

// A function that exits at start for another reason is reported with what it logged.
func TestLaunchChild_AFunctionThatExitsAtStartIsReportedWithItsLog(t *testing.T) {
	bin, _ := os.Executable()
	_, err := launchChild(context.Background(), "Fn", bin, []string{listenEnv + "=fail"}, filepath.Join(t.TempDir(), "fn.log"))
	if err == nil || !strings.Contains(err.Error(), "Fn exited at start") || !strings.Contains(err.Error(), "JOBHOOKS_SOMETHING is not valid") {
		t.Errorf("err = %v, want the exit and the log's end", err)
	}
}
