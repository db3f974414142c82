package lease

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// A lease held by a process of this host that no longer exists is broken
// at once; a live process, another host, or a name that cannot be read
// never is.
func TestDeadOnThisHost(t *testing.T) {
	host, _ := os.Hostname()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	gone := cmd.Process.Pid // reaped: no such process any more
	for _, tc := range []struct {
		holder string
		want   bool
	}{
		{fmt.Sprintf("%s:%d:x", host, gone), true},
		{fmt.Sprintf("%s:%d:x", host, os.Getpid()), false},
		{fmt.Sprintf("%s:%d:x", host, os.Getppid()), false},
		{fmt.Sprintf("other-%s:%d:x", host, gone), false},
		{"garbage", false},
		{"", false},
	} {
		if got := DeadOnThisHost(tc.holder); got != tc.want {
			t.Errorf("DeadOnThisHost(%q) = %v, want %v", tc.holder, got, tc.want)
		}
	}
	if h := Holder(); !strings.HasPrefix(h, fmt.Sprintf("%s:%d:", host, os.Getpid())) {
		t.Errorf("Holder() = %q", h)
	}
}

// Keep renews until stopped; a renewal that fails ends the loop, and stop
// says why.
func TestKeep(t *testing.T) {
	var mu sync.Mutex
	n := 0
	stop := Keep(time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		n++
		return nil
	})
	time.Sleep(30 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	renewed := n
	mu.Unlock()
	if renewed < 2 {
		t.Errorf("renewed %d times in 30 ms every 1 ms", renewed)
	}
	taken := errors.New("taken over")
	calls := 0
	stop = Keep(time.Millisecond, func() error { calls++; return taken })
	time.Sleep(20 * time.Millisecond)
	if err := stop(); !errors.Is(err, taken) || calls != 1 {
		t.Errorf("stop() = %v after %d renewals, want the first failure after 1", err, calls)
	}
}
