package emulator

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestGroupAlive_AKilledProcessNotYetReapedIsGone: a stop waits for the emulator's process group
// to be gone; a zombie, which the machine's init may take seconds to reap, holds nothing.
func TestGroupAlive_AKilledProcessNotYetReapedIsGone(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	defer cmd.Wait()
	if !GroupAlive(pgid) {
		t.Fatalf("a running sleep's group %d is not alive", pgid)
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	// Not reaped yet (no Wait): kill(-pgid, 0) still finds the zombie.
	for deadline := time.Now().Add(time.Minute); GroupAlive(pgid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("group %d still alive a minute after SIGKILL", pgid)
		}
	}
	if syscall.Kill(-pgid, 0) != nil {
		t.Fatalf("the zombie was reaped already; the test needs it unreaped")
	}
}
