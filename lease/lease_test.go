package lease

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
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
