package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ServerCPU returns the user and system time used so far by the database
// server whose main process is pid (PostgreSQL's postmaster, on the same
// machine): its own, its children's that ended (cutime, cstime: the
// backends of closed connections) and its live children's. The
// difference of two readings is what the server spent in between, the
// other half of a phase's cost on PostgreSQL. It returns 0 where /proc
// does not exist.
func ServerCPU(pid int) time.Duration {
	f := statFields(pid)
	if len(f) < 17 {
		return 0
	}
	ticks := sum(f[13:17]) // utime stime cutime cstime
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		c := statFields(atoi(filepath.Base(filepath.Dir(p))))
		if len(c) >= 15 && c[3] == strconv.Itoa(pid) {
			ticks += sum(c[13:15])
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux platform Go supports.
const clockTicks = 100

// statFields splits /proc/<pid>/stat, from the state field on (index 2,
// so that the numbering is proc(5)'s minus one), after the command name
// in parentheses that may hold spaces.
func statFields(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return append([]string{"pid", "comm"}, strings.Fields(s[i+1:])...)
}

func sum(fields []string) int64 {
	var n int64
	for _, f := range fields {
		v, _ := strconv.ParseInt(f, 10, 64)
		n += v
	}
	return n
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
