package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procs is the CPU time of each process group the stack started (functions and emulators, by
// the name in DIR/pids) and the peak memory of the function processes.
type procs struct {
	cpuSeconds map[string]float64
	peakRSSMB  float64
}

// functions is the CPU time of the function processes: what Jobhooks itself costs.
func (p procs) functions() float64 {
	var s float64
	for name, c := range p.cpuSeconds {
		if !strings.HasSuffix(name, "-emulator") {
			s += c
		}
	}
	return s
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

func readProcs(dir string) (procs, error) {
	f, err := os.Open(filepath.Join(dir, "pids"))
	if err != nil {
		return procs{}, err
	}
	defer f.Close()
	groups := map[string]string{} // process group id → name
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 {
			groups[fields[0]] = fields[1]
		}
	}
	if err := sc.Err(); err != nil {
		return procs{}, err
	}
	p := procs{cpuSeconds: map[string]float64{}}
	all, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range all {
		stat, err := os.ReadFile(path)
		if err != nil {
			continue // exited meanwhile
		}
		// Fields after the command name (which may hold spaces) start after the last ')'.
		rest := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		name, ok := groups[rest[2]]
		if !ok {
			continue
		}
		utime, _ := strconv.ParseFloat(rest[11], 64)
		stime, _ := strconv.ParseFloat(rest[12], 64)
		p.cpuSeconds[name] += (utime + stime) / clockTicks
		if !strings.HasSuffix(name, "-emulator") {
			status, _ := os.ReadFile(filepath.Join(filepath.Dir(path), "status"))
			for _, line := range strings.Split(string(status), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
					p.peakRSSMB += kb / 1024
				}
			}
		}
	}
	for pgid, name := range groups {
		if _, ok := p.cpuSeconds[name]; !ok {
			return p, fmt.Errorf("%s (process group %s) is not running", name, pgid)
		}
	}
	return p, nil
}
