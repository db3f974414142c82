// Package lease names the processes that hold leases in the store (outbox
// messages, the run lock) and tells whether a holder has stopped.
package lease

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Holder returns the name this process takes in leases: "host:pid:run",
// where run is random, so that two runs are told apart even when a pid is
// reused.
func Holder() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
}

// DeadOnThisHost reports whether a lease holder was a process of this host
// that no longer exists. A holder on another host, or one that cannot be
// parsed, is never taken for dead: its lease must run out.
func DeadOnThisHost(holder string) bool {
	host, _ := os.Hostname()
	parts := strings.Split(holder, ":")
	if len(parts) != 3 || parts[0] != host {
		return false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return false
	}
	if pid == os.Getpid() {
		return false
	}
	err = syscall.Kill(pid, 0)
	return errors.Is(err, syscall.ESRCH)
}

// Keep renews a lease every interval (a third of its length, so that one
// failed renewal still leaves time for the next) until the returned stop
// is called. A renewal that returns an error ends the loop, and stop
// returns that error once the loop is over; a holder that only wants to
// log a failed renewal and try again returns nil from renew.
func Keep(every time.Duration, renew func() error) (stop func() error) {
	quit := make(chan struct{})
	done := make(chan struct{})
	var failed error
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				if err := renew(); err != nil {
					failed = err
					return
				}
			}
		}
	}()
	return func() error {
		close(quit)
		<-done
		return failed
	}
}
