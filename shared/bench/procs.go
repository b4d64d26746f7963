package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procs is the CPU time and peak memory of the stack's function processes (not the emulators):
// what Jobhooks itself costs.
type procs struct {
	cpuSeconds float64
	peakRSSMB  float64
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

func readProcs(dir string) (procs, error) {
	f, err := os.Open(filepath.Join(dir, "pids"))
	if err != nil {
		return procs{}, err
	}
	defer f.Close()
	var p procs
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 || strings.HasSuffix(fields[1], "-emulator") {
			continue
		}
		stat, err := os.ReadFile("/proc/" + fields[0] + "/stat")
		if err != nil {
			return p, fmt.Errorf("function %s is not running: %w", fields[1], err)
		}
		// Fields after the command name (which may hold spaces) start after the last ')'.
		rest := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		utime, _ := strconv.ParseFloat(rest[11], 64)
		stime, _ := strconv.ParseFloat(rest[12], 64)
		p.cpuSeconds += (utime + stime) / clockTicks
		status, _ := os.ReadFile("/proc/" + fields[0] + "/status")
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				p.peakRSSMB += kb / 1024
			}
		}
	}
	return p, sc.Err()
}
