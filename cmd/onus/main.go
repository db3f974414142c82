// Command onus is the security accountability engine: it reads the
// organisation's systems of record, finds every security gap, and gives
// each one a named owner and a deadline.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/evaluate"
	"github.com/onus-sec/onus/internal/gcpace"
	"github.com/onus-sec/onus/report"
	"github.com/onus-sec/onus/source"
	"github.com/onus-sec/onus/store"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes.
const (
	exitOK        = 0
	exitError     = 1
	exitUnhealthy = 2 // the run completed, but a source failed or looked wrong
	exitAttention = 3 // the delivery run completed, but messages need attention
)

// errUnhealthy makes a command exit with exitUnhealthy after its output.
var errUnhealthy = errors.New("one or more sources are unhealthy")

// errAttention makes onus nudge exit with exitAttention after its output:
// messages are held by another run's lease, or were found uncertain.
var errAttention = errors.New("outbox messages need attention")

type app struct {
	configDir string
	dbPath    string
	output    string
	logLevel  string
	quiet     bool
	noProg    bool
	memLimit  string
	server    string
	token     string

	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	// clock is the machine's clock: the operational time of every
	// command, and the business time of a command run without --now.
	clock onus.Clock
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, clock: onus.ClockFunc(time.Now)}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUnhealthy):
		return exitUnhealthy
	case errors.Is(err, errAttention):
		return exitAttention
	case errors.Is(err, errSilent):
		return exitError
	}
	if code, ok := exitCode(err, stderr); ok {
		return code
	}
	var probs config.Problems
	if errors.As(err, &probs) {
		fmt.Fprintf(stderr, "onus: the configuration has %d problem(s):\n", len(probs))
		for _, p := range probs {
			fmt.Fprintf(stderr, "  %s\n", p)
		}
		return exitError
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "onus: interrupted; nothing was half-written")
		return exitError
	}
	msg := err.Error()
	if onus.ErrorCode(err) != onus.EINTERNAL {
		msg = onus.ErrorMessage(err)
	}
	fmt.Fprintf(stderr, "onus: %s\n", msg)
	return exitError
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "onus",
		Short: "Security accountability: every gap gets one named owner and a deadline",
		Long: `onus reads your systems of record (HR, MDM, endpoint security, identity
provider, background checks, software inventory), correlates them into one
inventory, evaluates controls written in CEL, and keeps a findings ledger in
which every gap has one Responsible person and a due date.

Start with "onus demo" to see it on the bundled example organisation.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.setup()
		},
	}
	f := root.PersistentFlags()
	f.StringVarP(&a.configDir, "config", "c", envOr("ONUS_CONFIG", "."), "configuration directory (holds onus.yaml) [$ONUS_CONFIG]")
	f.StringVar(&a.dbPath, "db", os.Getenv("ONUS_DB"), "the store: a SQLite file, or postgres://user@host/db?password=env:NAME (default: database in onus.yaml, else onus.db in the configuration directory) [$ONUS_DB]")
	f.StringVarP(&a.output, "output", "o", "text", "output format: text or json (listings also csv)")
	f.StringVar(&a.logLevel, "log-level", "warn", "log level: debug, info, warn or error (logs go to stderr)")
	f.BoolVarP(&a.quiet, "quiet", "q", false, "print nothing but errors and requested data")
	f.BoolVar(&a.noProg, "no-progress", false, "do not show progress bars")
	f.StringVar(&a.server, "server", os.Getenv("ONUS_SERVER"), "with except, outbox resend/confirm, link and unlink: act through this onus serve (https://onus.acme.com) as the owner of --token, instead of on the database file [$ONUS_SERVER]")
	// The token is read from the environment after parsing, not as the
	// flag's default: --help prints defaults.
	f.StringVar(&a.token, "token", "", "the API token for --server [$ONUS_TOKEN]")
	f.StringVar(&a.memLimit, "memory-limit", os.Getenv("ONUS_MEMORY_LIMIT"), "soft memory limit, such as 3GiB: the Go runtime collects garbage harder to stay under it (GOMEMLIMIT works too). Without it, or GOGC, onus leaves the heap less room above a large live heap (docs/performance.md, \"Memory\") [$ONUS_MEMORY_LIMIT]")
	root.AddCommand(
		a.migrateCmd(), a.storeCmd(),
		a.demoCmd(), a.validateCmd(), a.syncCmd(), a.evalCmd(), a.runCmd(),
		a.findingsCmd(), a.findingCmd(), a.explainCmd(), a.statusCmd(), a.benchCmd(),
		a.raciCmd(), a.exceptCmd(), a.exceptionsCmd(), a.exceptionCmd(), a.whoisCmd(),
		a.nudgeCmd(), a.outboxCmd(), a.scheduleCmd(), a.linkCmd(), a.unlinkCmd(), a.serveCmd(), a.tokenCmd(),
	)
	root.AddCommand(a.gateCmd())
	root.AddCommand(a.connectorsCmd(), a.sourcesCmd())
	root.AddCommand(a.benchRerunChildCmd())
	return root
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func (a *app) setup() error {
	if a.token == "" {
		a.token = os.Getenv("ONUS_TOKEN")
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(a.logLevel)); err != nil {
		return onus.Errorf(onus.EINVALID, "unknown log level %q (want debug, info, warn or error)", a.logLevel)
	}
	a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: lvl}))
	slog.SetDefault(a.log) // connectors opened by the source registry log here
	if a.memLimit != "" {
		n, err := parseBytes(a.memLimit)
		if err != nil {
			return onus.Errorf(onus.EINVALID, "--memory-limit: %v", err)
		}
		debug.SetMemoryLimit(n)
	} else if gcpace.Enabled() {
		// No limit and no GOGC: leave less room above a large live heap
		// (a 100,000-person run holds about 2 GiB of records).
		gcpace.Start(gcpace.Options{})
	}
	return nil
}

// parseBytes reads sizes such as 3GiB, 512MiB, 2GB or a number of bytes.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	t := strings.TrimSpace(s)
	for _, u := range units {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil || f <= 0 {
				break
			}
			return int64(f * u.mult), nil
		}
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil && n > 0 {
		return n, nil
	}
	return 0, fmt.Errorf("%q is not a size (examples: 3GiB, 512MiB)", s)
}

// actor names who runs a command, for the audit log.
func actor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return "cli:" + name + "@" + host
}

// loadConfig reads and checks the whole configuration, controls included:
// no command runs on a configuration with a problem.
func (a *app) loadConfig() (*config.Config, error) {
	cfg, err := config.Load(a.configDir)
	if err != nil {
		return nil, err
	}
	if probs := connectorProblems(cfg); len(probs) > 0 {
		return nil, probs
	}
	if _, err := evaluate.Compile(cfg, a.clock.Now()); err != nil {
		return nil, err
	}
	return cfg, nil
}

// databasePath resolves the store: --db, $ONUS_DB, database: in onus.yaml,
// or onus.db in the configuration directory.
func (a *app) databasePath(cfg *config.Config) string {
	if a.dbPath != "" {
		return a.dbPath
	}
	if cfg != nil && cfg.Database != "" {
		if filepath.IsAbs(cfg.Database) || store.IsPostgres(cfg.Database) {
			return cfg.Database
		}
		return filepath.Join(cfg.Dir, cfg.Database)
	}
	return filepath.Join(a.configDir, "onus.db")
}

// openStore opens the store at path with the command's clock.
func (a *app) openStore(ctx context.Context, path string) (*store.DB, error) {
	db, err := store.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	db.Clock = a.clock
	for _, w := range db.Warnings {
		a.log.Warn(w)
	}
	return db, nil
}

// openExisting opens the store for reading commands: it must exist.
func (a *app) openExisting(ctx context.Context) (*store.DB, error) {
	var cfg *config.Config
	if a.dbPath == "" {
		// Only onus.yaml's database setting is needed; a configuration
		// with problems elsewhere must not stop a read.
		if f, err := os.Open(filepath.Join(a.configDir, config.MainFile)); err == nil {
			cfg, _ = config.ParseMain(f.Name(), f)
			f.Close()
			if cfg != nil {
				cfg.Dir = a.configDir
			}
		}
	}
	path := a.databasePath(cfg)
	if _, err := os.Stat(path); err != nil && !store.IsPostgres(path) {
		if a.server != "" {
			// A user with a server and a token holds no database: say
			// where the listings are instead of how to make one.
			return nil, onus.Errorf(onus.ENOTFOUND, "no database at %s: --server acts only for except, outbox resend/confirm, link and unlink; read the rest through the server's API (%s/api/v1/findings, described at /api/v1/openapi.json), or pass --db", path, strings.TrimSuffix(a.server, "/"))
		}
		return nil, onus.Errorf(onus.ENOTFOUND, "no database at %s: run \"onus sync\" and \"onus eval\" first, or pass --db (try \"onus demo\")", path)
	}
	return a.openStore(ctx, path)
}

func (a *app) checkOutput(allowed ...string) error {
	if len(allowed) == 0 {
		allowed = []string{report.Text, report.JSON}
	}
	return report.CheckFormat(a.output, allowed...)
}

func (a *app) printf(format string, args ...any) {
	if !a.quiet {
		fmt.Fprintf(a.stdout, format, args...)
	}
}

// progress returns a progress display per source, or nil when stderr is
// not a terminal or progress is off.
func (a *app) progress() func(string) source.Progress {
	f, ok := a.stderr.(*os.File)
	if a.noProg || a.quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func(name string) source.Progress { return newBar(a.stderr, name) }
}

// parseNow reads --now: RFC 3339, or a date; empty is the machine's
// clock. It sets the business time of a command.
func (a *app) parseNow(s string) (time.Time, error) {
	if s == "" {
		return a.clock.Now().Truncate(time.Second), nil
	}
	t, err := source.ParseTime(s, "")
	if err != nil {
		return time.Time{}, onus.Errorf(onus.EINVALID, "--now: %v", err)
	}
	return t.UTC(), nil
}

// parseID reads the id of a finding, an exception or an outbox message
// ("13" or "#13", as listings show them).
func parseID(arg, what string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(arg, "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, onus.Errorf(onus.EINVALID, "%q is not %s id (a number, as the listings show)", arg, article(what))
	}
	return id, nil
}

func article(what string) string {
	if strings.ContainsRune("aeiou", rune(what[0])) {
		return "an " + what
	}
	return "a " + what
}
