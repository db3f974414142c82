// Package pgtest gives tests a real PostgreSQL: the server named by
// $ONUS_TEST_POSTGRES (./scripts/test starts one and sets it), or else one
// this test process starts itself from Debian's postgresql packages
// (initdb and postgres, found on $PATH or under /usr/lib/postgresql/*/bin),
// in a temporary directory, on a free loopback port, as a non-root user.
// Each test gets a database of its own. A test never skips because
// PostgreSQL is missing: it fails and says how to install it.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env names the variable holding the URL of a PostgreSQL server for the
// tests: a role that may create databases, and any database to connect to
// first, e.g. postgres://onus@127.0.0.1:5433/postgres.
const Env = "ONUS_TEST_POSTGRES"

var (
	once    sync.Once
	base    string
	baseErr error
	server  *exec.Cmd
	dir     string
	seq     atomic.Int64
)

// DSN returns the URL of a new, empty schema for tb (its search_path),
// dropped when tb ends. A schema is made in milliseconds where a database
// takes seconds; onus keys its advisory locks by schema, so tests on one
// server do not wait for each other.
func DSN(tb testing.TB) string {
	tb.Helper()
	u, err := Server()
	if err != nil {
		tb.Fatalf("PostgreSQL for the tests: %v", err)
	}
	name := fmt.Sprintf("onus_test_%d_%d", os.Getpid(), seq.Add(1))
	if err := exec1(u, "CREATE SCHEMA "+name); err != nil {
		tb.Fatalf("PostgreSQL for the tests: create schema: %v", err)
	}
	tb.Cleanup(func() { _ = exec1(u, "DROP SCHEMA IF EXISTS "+name+" CASCADE") })
	p, _ := url.Parse(u)
	q := p.Query()
	q.Set("search_path", name)
	p.RawQuery = q.Encode()
	return p.String()
}

func exec1(dsn, stmt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, stmt)
	return err
}

// Server returns the URL of the tests' PostgreSQL server, starting it on
// the first call when $ONUS_TEST_POSTGRES is not set.
func Server() (string, error) {
	once.Do(func() {
		if v := os.Getenv(Env); v != "" {
			base = v
			return
		}
		base, baseErr = start()
	})
	return base, baseErr
}

// Stop stops the server Server started, and removes its files. A test
// binary that does not call it (from TestMain) leaves the server to die
// with the process; its files are removed by the next run.
func Stop() {
	if server != nil && server.Process != nil {
		server.Process.Signal(syscall.SIGINT) // fast shutdown
		done := make(chan struct{})
		go func() { server.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			server.Process.Kill()
		}
		server = nil
	}
	if dir != "" {
		os.RemoveAll(dir)
		dir = ""
	}
}

// Main runs a package's tests and stops the server after them: call it
// from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Bin finds the directory of PostgreSQL's server programs: the one of
// initdb on $PATH, else the newest /usr/lib/postgresql/*/bin.
func Bin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) < version(dirs[j]) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	return "", errors.New("PostgreSQL is not installed (no initdb on $PATH nor under /usr/lib/postgresql/*/bin): install Debian's postgresql package (apt-get install postgresql; ./scripts/test does it), or set " + Env + " to the URL of a server")
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// start makes a cluster in a temporary directory and runs its server.
func start() (string, error) {
	bin, err := Bin()
	if err != nil {
		return "", err
	}
	removeStale()
	dir, err = os.MkdirTemp("", fmt.Sprintf("onus-pg-%d-", os.Getpid()))
	if err != nil {
		return "", err
	}
	// initdb and postgres refuse to run as root: as root, they run as
	// nobody (or $ONUS_TEST_POSTGRES_USER).
	var cred *syscall.Credential
	if os.Getuid() == 0 {
		name := os.Getenv("ONUS_TEST_POSTGRES_USER")
		if name == "" {
			name = "nobody"
		}
		u, err := user.Lookup(name)
		if err != nil {
			return "", fmt.Errorf("running as root, PostgreSQL needs a user to run as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return "", err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "onus", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Env = append(os.Environ(), "HOME="+dir)
	if out, err := initdb.CombinedOutput(); err != nil {
		return "", fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	logPath := filepath.Join(dir, "postgres.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	defer logf.Close()
	server = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "shared_buffers=32MB")
	// The server dies with the test process, however that ends.
	server.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	server.Stdout, server.Stderr = logf, logf
	server.Env = append(os.Environ(), "HOME="+dir)
	if err := server.Start(); err != nil {
		return "", fmt.Errorf("postgres: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- server.Wait() }()
	u := fmt.Sprintf("postgres://onus@127.0.0.1:%d/postgres?sslmode=disable", port)
	// The timeout only guards against a hang.
	giveUp := time.After(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := pgx.Connect(ctx, u)
		cancel()
		if err == nil {
			c.Close(context.Background())
			return u, nil
		}
		select {
		case e := <-exited:
			log, _ := os.ReadFile(logPath)
			server = nil
			return "", fmt.Errorf("postgres exited (%v):\n%s", e, log)
		case <-giveUp:
			log, _ := os.ReadFile(logPath)
			return "", fmt.Errorf("postgres did not accept connections within 2 minutes: %v\n%s", err, log)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// removeStale removes the directories of servers whose test process is
// gone (one that was killed, or did not call Stop).
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "onus-pg-*-*"))
	for _, d := range dirs {
		f := strings.Split(filepath.Base(d), "-")
		pid, err := strconv.Atoi(f[2])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			continue // still running
		}
		os.RemoveAll(d)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
