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
	shared  *Cluster
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
	if shared != nil {
		shared.stop()
		shared = nil
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
	c, err := newCluster()
	if err != nil {
		return "", err
	}
	shared = c
	return c.URL, nil
}

// Cluster is a PostgreSQL server of its own, for a test that restarts it
// (internal/killharness): a test never restarts the shared server of
// $ONUS_TEST_POSTGRES, which other packages' tests are using.
type Cluster struct {
	URL       string // a role that may create schemas, on database postgres
	bin, dir  string
	data, log string
	port      int
	cred      *syscall.Credential
	cmd       *exec.Cmd
	exited    chan error
}

// Own starts a server of tb's own, stopped when tb ends.
func Own(tb testing.TB) *Cluster {
	tb.Helper()
	c, err := newCluster()
	if err != nil {
		tb.Fatalf("PostgreSQL for the test: %v", err)
	}
	tb.Cleanup(c.stop)
	return c
}

// DSN returns the URL of a new, empty schema on c (its search_path).
func (c *Cluster) DSN(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("onus_test_%d_%d", os.Getpid(), seq.Add(1))
	if err := exec1(c.URL, "CREATE SCHEMA "+name); err != nil {
		tb.Fatalf("PostgreSQL for the test: create schema: %v", err)
	}
	p, _ := url.Parse(c.URL)
	q := p.Query()
	q.Set("search_path", name)
	p.RawQuery = q.Encode()
	return p.String()
}

// Restart stops the server as a crash would (an immediate shutdown: every
// connection is cut, nothing is checkpointed, the next start recovers from
// the write-ahead log) and starts it again on the same port.
func (c *Cluster) Restart(tb testing.TB) {
	tb.Helper()
	c.Crash(tb)
	c.Start(tb)
}

// Crash stops the server as a crash would (an immediate shutdown) and
// leaves it stopped: connections are refused until Start.
func (c *Cluster) Crash(tb testing.TB) {
	tb.Helper()
	c.cmd.Process.Signal(syscall.SIGQUIT) // immediate shutdown
	var err error
	select {
	case err = <-c.exited:
	case <-time.After(2 * time.Minute):
		c.cmd.Process.Kill()
		err = <-c.exited
	}
	c.exited <- err // for stop, should the test end before Start
}

// Start starts a server Crash stopped, on the same port, and waits until
// it accepts connections.
func (c *Cluster) Start(tb testing.TB) {
	tb.Helper()
	if err := c.run(); err != nil {
		tb.Fatalf("PostgreSQL start: %v", err)
	}
}

func (c *Cluster) stop() {
	if c.cmd != nil && c.cmd.Process != nil {
		c.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			c.cmd.Process.Kill()
		}
	}
	os.RemoveAll(c.dir)
}

// newCluster makes a cluster in a temporary directory and runs its server.
func newCluster() (*Cluster, error) {
	bin, err := Bin()
	if err != nil {
		return nil, err
	}
	removeStale()
	c := &Cluster{bin: bin}
	c.dir, err = os.MkdirTemp("", fmt.Sprintf("onus-pg-%d-", os.Getpid()))
	if err != nil {
		return nil, err
	}
	// initdb and postgres refuse to run as root: as root, they run as
	// nobody (or $ONUS_TEST_POSTGRES_USER).
	if os.Getuid() == 0 {
		name := os.Getenv("ONUS_TEST_POSTGRES_USER")
		if name == "" {
			name = "nobody"
		}
		u, err := user.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("running as root, PostgreSQL needs a user to run as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(c.dir, uid, gid); err != nil {
			return nil, err
		}
	}
	c.data = filepath.Join(c.dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", c.data, "-U", "onus", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	initdb.Env = append(os.Environ(), "HOME="+c.dir)
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if c.port, err = freePort(); err != nil {
		return nil, err
	}
	c.log = filepath.Join(c.dir, "postgres.log")
	c.URL = fmt.Sprintf("postgres://onus@127.0.0.1:%d/postgres?sslmode=disable", c.port)
	return c, c.run()
}

// run starts the server and waits until it accepts connections.
func (c *Cluster) run() error {
	logf, err := os.OpenFile(c.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	c.cmd = exec.Command(filepath.Join(c.bin, "postgres"), "-D", c.data, "-p", strconv.Itoa(c.port), "-k", c.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "shared_buffers=32MB")
	// The server dies with the test process, however that ends.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGKILL}
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.Env = append(os.Environ(), "HOME="+c.dir)
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("postgres: %v", err)
	}
	c.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, exited chan error) { exited <- cmd.Wait() }(c.cmd, c.exited)
	// The timeout only guards against a hang.
	giveUp := time.After(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := pgx.Connect(ctx, c.URL)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case e := <-c.exited:
			log, _ := os.ReadFile(c.log)
			c.exited <- e
			return fmt.Errorf("postgres exited (%v):\n%s", e, log)
		case <-giveUp:
			log, _ := os.ReadFile(c.log)
			return fmt.Errorf("postgres did not accept connections within 2 minutes: %v\n%s", err, log)
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
