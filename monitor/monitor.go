// Package monitor runs onus's main loop: sync every source into the store,
// then build the inventory from the snapshots in force, evaluate the
// controls and record the changes in the findings ledger. Everything with
// a side effect happens here; the steps in between are pure.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/evaluate"
	"github.com/onus-sec/onus/gate"
	"github.com/onus-sec/onus/identity"
	"github.com/onus-sec/onus/inventory"
	"github.com/onus-sec/onus/lease"
	"github.com/onus-sec/onus/ledger"
	"github.com/onus-sec/onus/raci"
	"github.com/onus-sec/onus/source"
	"github.com/onus-sec/onus/store"
)

// Monitor syncs sources and evaluates controls for one configuration.
type Monitor struct {
	Config *config.Config
	Store  *store.DB
	Log    *slog.Logger
	// Progress returns a progress display for reading a source; nil for none.
	Progress func(src string) source.Progress
	// Actor is who runs the monitor, for the audit log.
	Actor string
	// Wall is the operational clock: sync times, phase timings, leases.
	// Business time (the instant evaluated) is passed to Eval and Nudge.
	// Nil is the machine's clock; tests set a fake one.
	Wall onus.Clock
	// Holder names this process in the run lock (by default a new
	// lease.Holder() for every sync and evaluation), and Dead tells whether another holder stopped
	// (lease.DeadOnThisHost by default).
	Holder string
	Dead   func(holder string) bool
	// LockFor is how long the run lock is held before it must be renewed
	// (2 minutes by default); it is renewed every third of it.
	LockFor time.Duration
	// Phase, when set, is called as each phase of an evaluation ends
	// ("load", "correlate", "evaluate", "persist"); benchmarks use it to
	// measure each phase's memory.
	Phase func(name string)
	// Full evaluates every control, instead of carrying over those whose
	// inputs did not change (onus eval --full).
	Full bool
}

func (m *Monitor) phase(name string) {
	if m.Phase != nil {
		m.Phase(name)
	}
}

func (m *Monitor) now() time.Time { return onus.Or(m.Wall).Now() }

// lock takes the run lock for a sync or an evaluation under a holder name
// it returns, and keeps renewing it until the returned function is called.
// It fails with a conflict error naming who holds it when another live
// process, or another sync or evaluation of this one, does.
func (m *Monitor) lock(ctx context.Context, what string) (string, func(), error) {
	holder := m.Holder
	if holder == "" {
		holder = lease.Holder()
	}
	d := m.LockFor
	if d == 0 {
		d = 2 * time.Minute
	}
	dead := m.Dead
	if dead == nil {
		dead = lease.DeadOnThisHost
	}
	if err := m.Store.Lock(ctx, store.LockRequest{Holder: holder, Actor: m.Actor, What: what, For: d, Dead: dead}); err != nil {
		return "", nil, err
	}
	stop := lease.Keep(d/3, func() error {
		if err := m.Store.RenewLock(context.WithoutCancel(ctx), holder, d); err != nil {
			m.log().Warn("cannot renew the run lock", onus.LogError, err)
		}
		return nil
	})
	return holder, func() {
		stop()
		if err := m.Store.Unlock(context.WithoutCancel(ctx), holder); err != nil {
			m.log().Warn("cannot release the run lock", onus.LogError, err)
		}
	}, nil
}

// since returns the seconds elapsed since t in operational time.
func (m *Monitor) since(t time.Time) float64 { return m.now().Sub(t).Seconds() }

func (m *Monitor) log() *slog.Logger {
	if m.Log != nil {
		return m.Log
	}
	return slog.New(slog.DiscardHandler)
}

// ManualLinks returns the links and unlinks made by hand, as the
// inventory applies them.
func ManualLinks(ctx context.Context, db *store.DB) ([]inventory.Manual, error) {
	ls, err := db.ManualLinks(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]inventory.Manual, len(ls))
	for i, l := range ls {
		out[i] = inventory.Manual{A: l.A, B: l.B, Linked: l.Linked}
	}
	return out, nil
}

// Normalizer returns the identity key normaliser of the configuration.
func Normalizer(cfg *config.Config) *identity.Normalizer {
	return identity.New(identity.Options{
		EmailAliases: cfg.Identity.EmailAliases,
		StripPlus:    cfg.Identity.StripPlus,
		Junk:         cfg.Identity.Junk,
		Types:        cfg.Identity.KeyTypes,
	})
}

// SourceReport says how one source's sync went.
type SourceReport struct {
	Source   string              `json:"source"`
	Kind     string              `json:"kind"`
	Status   onus.SyncStatus     `json:"status"`
	Records  int                 `json:"records"`
	Previous int                 `json:"previous_records"`
	Bad      int                 `json:"bad_records"`
	Bytes    int64               `json:"bytes"`
	Error    string              `json:"error,omitempty"`
	Problems []*onus.RecordError `json:"problems,omitempty"`
	Warnings []string            `json:"warnings,omitempty"`
	Seconds  float64             `json:"seconds"`
	// Unchanged is true when the source's files held the same bytes as
	// when its snapshot in force was read: they were not read again.
	Unchanged bool `json:"unchanged,omitempty"`
}

// SyncReport is the outcome of a sync.
type SyncReport struct {
	Run     int64          `json:"run"`
	Sources []SourceReport `json:"sources"`
	Seconds float64        `json:"seconds"`
	// Snapshots are the good snapshots read, for an evaluation that
	// follows in the same process.
	Snapshots map[string]*onus.Snapshot `json:"-"`
}

// Failed reports whether any source failed or looked wrong.
func (r *SyncReport) Failed() bool {
	for _, s := range r.Sources {
		if s.Status != onus.SyncOK {
			return true
		}
	}
	return false
}

// SyncOptions tune a sync.
type SyncOptions struct {
	// Only syncs these sources (all when empty).
	Only []string
	// AcceptShrink accepts a large drop in records for these sources: the
	// drop is real (a reorganisation, a decommissioned fleet).
	AcceptShrink []string
	// Reread reads every source, even those whose files are unchanged
	// since their snapshot in force was read.
	Reread bool
}

// Sync reads every source and stores what it read. A source that fails,
// or returns far fewer records than its last good sync, is recorded as
// unhealthy and its last good snapshot stays in force. Sync returns an
// error only when it cannot record anything at all.
func (m *Monitor) Sync(ctx context.Context, o SyncOptions) (*SyncReport, error) {
	cfg := m.Config
	for _, name := range append(append([]string(nil), o.Only...), o.AcceptShrink...) {
		if cfg.Source(name) == nil {
			return nil, onus.Errorf(onus.EINVALID, "sync: no source called %q in %s", name, cfg.File)
		}
	}
	holder, unlock, err := m.lock(ctx, "sync")
	if err != nil {
		return nil, err
	}
	defer unlock()
	start := m.now()
	run, err := m.Store.BeginRunAs(ctx, "sync", m.Actor, holder, time.Time{})
	if err != nil {
		return nil, err
	}
	rep := &SyncReport{Run: run, Snapshots: map[string]*onus.Snapshot{}}
	norm := Normalizer(cfg)
	var srcs []*config.Source
	for _, src := range cfg.Sources {
		if len(o.Only) == 0 || contains(o.Only, src.Name) {
			srcs = append(srcs, src)
		}
	}
	// Sources are read side by side (syncmany.go); the report lists them
	// in the configuration's order.
	done, err := m.syncSources(ctx, run, srcs, norm, o)
	for i, d := range done {
		if !d.done {
			continue
		}
		rep.Sources = append(rep.Sources, d.rep)
		if d.snap != nil {
			rep.Snapshots[srcs[i].Name] = d.snap
		}
	}
	if err != nil {
		if ferr := m.Store.FinishRun(ctx, run, rep, err); ferr != nil {
			err = errors.Join(err, fmt.Errorf("monitor: record the end of sync run %d: %w", run, ferr))
		}
		return rep, err
	}
	rep.Seconds = m.now().Sub(start).Seconds()
	detail := fmt.Sprintf("%d sources", len(rep.Sources))
	for _, s := range rep.Sources {
		if s.Status != onus.SyncOK {
			detail += fmt.Sprintf("; %s %s", s.Source, s.Status)
		} else if s.Unchanged {
			detail += fmt.Sprintf("; %s unchanged", s.Source)
		}
	}
	if err := m.Store.FinishRun(ctx, run, rep, ctx.Err()); err != nil {
		return rep, fmt.Errorf("monitor: record the end of sync run %d: %w", run, err)
	}
	if err := m.Store.Audit(ctx, m.Actor, "sync", fmt.Sprintf("run %d", run), detail); err != nil {
		return rep, err
	}
	return rep, ctx.Err()
}

// syncOne syncs one source; write serialises its store writes with those
// of the sources synced beside it.
func (m *Monitor) syncOne(ctx context.Context, run int64, src *config.Source, norm *identity.Normalizer, acceptShrink, reread bool, write *sync.Mutex) (SourceReport, *onus.Snapshot, error) {
	log := m.log().With(onus.LogSource, src.Name, onus.LogRun, run)
	started := m.now()
	sr := SourceReport{Source: src.Name, Kind: src.Kind}
	prev, hasPrev, err := m.Store.GoodRecords(ctx, src.Name)
	if err != nil {
		return sr, nil, err
	}
	sr.Previous = prev
	// What the files hold now, and whether it is what the snapshot in
	// force was read from. A file that cannot be stamped is read as
	// usual, and the reader reports what is wrong with it.
	var fp *fingerprint
	if stored, err := m.Store.Fingerprint(ctx, src.Name); err != nil {
		return sr, nil, err
	} else if fp, err = m.stamp(ctx, src, parseFingerprint(stored)); err != nil {
		log.Debug("cannot fingerprint the source's files; reading them", "error", err)
		fp = nil
	} else if hasPrev && !reread && fp.sameContent(parseFingerprint(stored)) {
		sy := &onus.Sync{Run: run, Source: src.Name, Started: started, Finished: m.now(), Fingerprint: fp.String()}
		write.Lock()
		err := m.Store.SaveUnchangedSync(ctx, sy)
		write.Unlock()
		if err != nil {
			return sr, nil, err
		}
		log.Info("unchanged", onus.LogRecords, sy.Records)
		sr.Status, sr.Records, sr.Bad, sr.Bytes, sr.Problems, sr.Warnings, sr.Unchanged =
			sy.Status, sy.Records, sy.Bad, sy.Bytes, sy.Problems, sy.Warnings, true
		sr.Seconds = sy.Finished.Sub(started).Seconds()
		return sr, nil, nil
	}
	var prog source.Progress
	if m.Progress != nil {
		prog = m.Progress(src.Name)
	}
	res, rerr := source.Read(ctx, src, source.Options{
		Dir: m.Config.Dir, Normalizer: norm, MaxBad: m.Config.MaxBadRecords(src), Progress: prog, Now: started,
		Previous: func(ctx context.Context) (*onus.Snapshot, error) {
			snap, err := m.Store.LoadSnapshot(ctx, src.Name)
			if onus.ErrorCode(err) == onus.ENOTFOUND {
				return nil, nil
			}
			return snap, err
		},
	})
	sy := &onus.Sync{Run: run, Source: src.Name, Started: started}
	var snap *onus.Snapshot
	switch {
	case rerr != nil:
		sy.Status = onus.SyncFailed
		sy.Error = onus.ErrorMessage(rerr)
		if onus.ErrorCode(rerr) == onus.EINTERNAL {
			sy.Error = rerr.Error()
		}
		if errors.Is(rerr, context.Canceled) {
			sy.Error = "interrupted"
		}
		if res != nil {
			sy.Bad, sy.Problems, sy.Warnings, sy.Bytes = res.Bad, res.Problems, res.Warnings, res.Bytes
			if res.Snapshot != nil {
				sy.Records = res.Snapshot.Records.Len()
			}
		}
		log.Warn("sync failed", onus.LogError, sy.Error)
	default:
		sy.Records, sy.Bad, sy.Problems, sy.Warnings, sy.Bytes = res.Snapshot.Records.Len(), res.Bad, res.Problems, res.Warnings, res.Bytes
		limit := m.Config.MaxShrink(src)
		if !hasPrev && sy.Records == 0 {
			// An empty first read is far likelier an API error or a wrong
			// export than an empty fleet, and would open a finding for
			// everything the source should know.
			sy.Status = onus.SyncFailed
			sy.Error = "returned no records on its first sync; a first sync must return records (check the export or the API response)"
			log.Warn("sync failed", onus.LogError, sy.Error)
		} else if hasPrev && !acceptShrink && prev > 0 && float64(sy.Records) < float64(prev)*(1-limit) {
			sy.Status = onus.SyncSuspicious
			sy.Error = fmt.Sprintf("returned %d records, %d fewer than the last good sync (%d), more than the %.0f%% allowed; the last good snapshot stays in force (if the drop is real: onus sync --accept-shrink %s)",
				sy.Records, prev-sy.Records, prev, limit*100, src.Name)
			log.Warn("sync suspicious", onus.LogRecords, sy.Records, "previous", prev)
		} else {
			sy.Status = onus.SyncOK
			snap = res.Snapshot
			if fp != nil {
				sy.Fingerprint = fp.String()
			}
			log.Info("synced", onus.LogRecords, sy.Records, "bad", sy.Bad)
		}
	}
	sy.Finished = m.now()
	write.Lock()
	err = m.Store.SaveSync(ctx, sy, snap)
	write.Unlock()
	if err != nil {
		return sr, nil, err
	}
	sr.Status, sr.Records, sr.Bad, sr.Bytes, sr.Error, sr.Problems, sr.Warnings =
		sy.Status, sy.Records, sy.Bad, sy.Bytes, sy.Error, sy.Problems, sy.Warnings
	sr.Seconds = sy.Finished.Sub(started).Seconds()
	return sr, snap, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Timings are how long each phase of a run took, and the heap in use
// after it.
type Timings struct {
	Load      float64 `json:"load_seconds"`
	Correlate float64 `json:"correlate_seconds"`
	Evaluate  float64 `json:"evaluate_seconds"`
	Persist   float64 `json:"persist_seconds"`
}

// EvalReport is the outcome of an evaluation.
type EvalReport struct {
	Run         int64           `json:"run"`
	Now         time.Time       `json:"now"`
	Sources     []SourceHealth  `json:"sources"`
	Kinds       []KindCount     `json:"entities"`
	Controls    []ControlReport `json:"controls"`
	Changes     ledger.Stats    `json:"changes"`
	NearMatches int             `json:"near_matches"`
	// Ambiguous counts the records kept apart because they could belong
	// to several entities, or are a possible match (onus explain).
	Ambiguous int `json:"ambiguous"`
	// Warnings are what is accepted but probably wrong: a control whose
	// scope matched no entity. Errors under --strict.
	Warnings []string                       `json:"warnings,omitempty"`
	Links    map[string]*inventory.LinkStat `json:"links,omitempty"`
	Timings  Timings                        `json:"timings"`
	// Retries counts how often the findings were judged again because an
	// exception was decided, or another writer changed a finding, while
	// this evaluation ran.
	Retries int `json:"retries,omitempty"`
	// ExceptionsExpired counts the exceptions that ended at this evaluation.
	ExceptionsExpired int `json:"exceptions_expired"`
	// ExceptionsExpiring are the approved exceptions that end within the
	// warning period: their owners and approvers are due a warning.
	ExceptionsExpiring []*onus.Exception `json:"exceptions_expiring,omitempty"`

	// Evaluation is "full" or "incremental"; FullBecause says why a full
	// evaluation was (the first one, --full, the evaluation before did not
	// finish, every control's inputs changed). An incremental evaluation
	// evaluates the controls in Evaluated and carries over those in
	// Carried; NotLoaded are the sources it did not read (no evaluated
	// control reads their kinds), and KeptFromRun the evaluation whose
	// figures it reports for them (entity counts, links, health).
	Evaluation  string          `json:"evaluation"`
	FullBecause string          `json:"full_because,omitempty"`
	Evaluated   []ControlReason `json:"evaluated,omitempty"`
	Carried     []string        `json:"carried,omitempty"`
	NotLoaded   []string        `json:"not_loaded,omitempty"`
	KeptFromRun int64           `json:"kept_from_run,omitempty"`

	// Inventory and Results are kept for callers in the same process.
	Inventory *inventory.Inventory `json:"-"`
	Results   *evaluate.Results    `json:"-"`
}

// SourceHealth is a source as the evaluation saw it.
type SourceHealth struct {
	Source    string    `json:"source"`
	Kind      string    `json:"kind"`
	Healthy   bool      `json:"healthy"`
	Reason    string    `json:"reason,omitempty"`
	Records   int       `json:"records"`
	Unmatched int       `json:"unmatched,omitempty"`
	SyncedAt  time.Time `json:"synced_at,omitzero"`
	// Snapshot is the stored snapshot in force (0 for none).
	Snapshot int64 `json:"snapshot,omitempty"`
}

// KindCount counts entities of one kind and their records per source.
type KindCount struct {
	Kind     string         `json:"kind"`
	Entities int            `json:"entities"`
	BySource map[string]int `json:"by_source"`
}

// ControlReport is what one control found.
type ControlReport struct {
	Control        string   `json:"control"`
	Title          string   `json:"title"`
	Severity       string   `json:"severity"`
	Pass           int      `json:"pass"`
	Fail           int      `json:"fail"`
	Unknown        int      `json:"unknown"`
	UnknownReasons []string `json:"unknown_reasons,omitempty"`
	// Carried is set for a control carried over by an incremental
	// evaluation: its figures are those of the evaluation before.
	Carried bool `json:"carried,omitempty"`
}

// Eval evaluates every control at now and records the changes. snaps may
// hold snapshots already in memory (from a sync in the same process); the
// others are loaded from the store.
func (m *Monitor) Eval(ctx context.Context, now time.Time, snaps map[string]*onus.Snapshot) (*EvalReport, error) {
	cfg := m.Config
	compiled, err := evaluate.Compile(cfg, now)
	if err != nil {
		return nil, err
	}
	holder, unlock, err := m.lock(ctx, "evaluation")
	if err != nil {
		return nil, err
	}
	defer unlock()
	run, err := m.Store.BeginRunAs(ctx, "eval", m.Actor, holder, now)
	if err != nil {
		return nil, err
	}
	full := ""
	if v := os.Getenv(EnvFull); m.Full || v == "1" || strings.EqualFold(v, "true") {
		full = "full evaluation asked for"
	}
	rep, err := m.eval(ctx, run, now, compiled, snaps, full)
	if errors.Is(err, errCarryStale) {
		// An exception was decided for a control about to be carried over:
		// evaluate everything.
		m.log().Info("an exception changed during the evaluation; evaluating every control", onus.LogRun, run)
		retries := max(rep.Retries, 1)
		rep, err = m.eval(ctx, run, now, compiled, snaps, "an exception changed during the evaluation")
		rep.Retries += retries
	}
	if ferr := m.Store.FinishRun(ctx, run, rep, err); ferr != nil {
		err = errors.Join(err, fmt.Errorf("monitor: record the end of evaluation run %d: %w", run, ferr))
	}
	if err == nil {
		err = m.Store.Audit(ctx, m.Actor, "eval", fmt.Sprintf("run %d", run),
			fmt.Sprintf("as of %s: %d opened, %d reopened, %d resolved, %d gone, %d reassigned",
				now.Format(time.RFC3339), rep.Changes.Opened, rep.Changes.Reopened, rep.Changes.Resolved, rep.Changes.Gone, rep.Changes.Reassigned))
	}
	return rep, err
}

func (m *Monitor) eval(ctx context.Context, run int64, now time.Time, compiled *evaluate.Compiled, snaps map[string]*onus.Snapshot, full string) (*EvalReport, error) {
	cfg := m.Config
	rep := &EvalReport{Run: run, Now: now}
	t0 := m.now()
	p, err := m.plan(ctx, now, compiled, full)
	if err != nil {
		return rep, err
	}
	rep.Evaluation, rep.FullBecause, rep.Evaluated = "full", p.full, p.evaluated
	if p.full == "" {
		rep.Evaluation, rep.Carried = "incremental", p.carriedIDs()
	}
	var load func(*config.Source) bool
	if p.load != nil {
		load = func(s *config.Source) bool { return p.load[s.Name] }
	}
	loaded, err := LoadSome(ctx, cfg, m.Store, snaps, load)
	if err != nil {
		return rep, err
	}
	in := loaded.Input
	rep.Sources = loaded.Sources
	rep.Timings.Load = m.since(t0)
	m.phase("load")
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}

	t1 := m.now()
	inv, unreadable, err := loaded.Correlate()
	if err != nil {
		return rep, err
	}
	rep.Sources = loaded.Sources
	rep.Timings.Correlate = m.since(t1)
	m.phase("correlate")
	rep.Inventory = inv
	rep.NearMatches = inv.NearCount()
	rep.Ambiguous = inv.AmbiguousCount()
	for i, applied := range inv.ManualApplied() {
		if !applied && !namesSkipped(in.Manual[i], loaded.Skipped, cfg) {
			l := in.Manual[i]
			verb := "unlink"
			if l.Linked {
				verb = "link"
			}
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("onus %s %s %s: one side names no record any more; it does nothing (onus unlink --forget %s %s drops it)", verb, l.A, l.B, l.A, l.B))
		}
	}
	rep.Links = inv.LinkStats()
	rep.Kinds = countKinds(inv)
	keepUnloaded(rep, loaded, p.prev)
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}

	// Judge and record. A decision on an exception, or another writer,
	// between reading and writing makes the store refuse the changes: judge
	// again on what is on record now, a few times at most.
	var unknowns []onus.UnknownResult
	var dir *raci.Directory
	var t3 time.Time
	for attempt := 1; ; attempt++ {
		unknowns, dir, t3, err = m.judge(ctx, run, now, rep, inv, compiled, unreadable, p)
		if err == nil {
			break
		}
		if !errors.Is(err, onus.ErrChanged) || attempt == 3 {
			return rep, err
		}
		m.log().Info("findings changed during the evaluation; judging again", onus.LogRun, run, onus.LogAttempt, attempt, onus.LogError, err)
		rep.Retries++
	}
	for _, cr := range rep.Controls {
		if cr.Pass+cr.Fail+cr.Unknown == 0 {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("control %s: its scope matched no entity; check its scope and the sources and fields it reads", cr.Control))
		}
	}
	if err := m.Store.ReplaceUnknowns(ctx, unknowns, rep.Carried...); err != nil {
		return rep, err
	}
	people := make([]*raci.Person, 0, len(dir.People))
	for _, p := range dir.People {
		people = append(people, p)
	}
	if err := m.Store.ReplaceDirectory(ctx, people, assets(inv, cfg.PersonKind())); err != nil {
		return rep, err
	}
	rep.Timings.Persist = m.since(t3)
	m.phase("persist")
	m.log().Info("evaluated", onus.LogRun, run, "evaluation", rep.Evaluation, "controls_evaluated", len(compiled.Controls)-len(rep.Carried), "controls_carried", len(rep.Carried), "sources_not_loaded", len(rep.NotLoaded), "opened", rep.Changes.Opened, "resolved", rep.Changes.Resolved, "gone", rep.Changes.Gone, "goroutines", runtime.NumGoroutine())
	return rep, nil
}

// lostRecords counts the records a sync skipped that cannot be told whose
// they are: no stub in the snapshot (a line that is not JSON, a record
// without an id), a stub that lacks an identity key nearly every other
// record has (it may have joined the wrong entity, or made one of its
// own), or a stub that matched nothing.
func lostRecords(sy *onus.Sync, inv *inventory.Inventory, si int) int {
	snap := inv.Sources[si].Snapshot
	freq, n := map[string]int{}, 0
	recs := snap.Records
	for i := range recs.Len() {
		if !recs.Skipped(i) {
			n++
			seen := map[string]bool{}
			for _, k := range recs.Keys(i) {
				if !seen[k.Name] {
					seen[k.Name] = true
					freq[k.Name]++
				}
			}
		}
	}
	whole := func(keys []onus.Key) bool {
		for name, c := range freq {
			if c*10 < n*9 {
				continue
			}
			has := false
			for _, k := range keys {
				has = has || k.Name == name
			}
			if !has {
				return false
			}
		}
		return true
	}
	joined := 0
	for i := range recs.Len() {
		if !recs.Skipped(i) || !whole(recs.Keys(i)) {
			continue
		}
		if inv.Owner(inventory.RecRef{Src: uint16(si), Idx: uint32(i)}) >= 0 {
			joined++
		}
	}
	dups := 0
	for _, p := range sy.Problems {
		if strings.HasPrefix(p.Message, "duplicate id") {
			dups++
		}
	}
	return max(sy.Bad-joined-dups, 0)
}

// assets lists, for every entity that links to a person (a laptop's
// owner, an account's person), the asset row of that person.
func assets(inv *inventory.Inventory, person string) []onus.Asset {
	links := map[string][]string{} // kind → links to people
	for _, s := range inv.Sources {
		if s.Kind == person {
			continue
		}
		for _, l := range s.Snapshot.Schema.Links {
			if l.To == person && !slices.Contains(links[s.Kind], l.Name) {
				links[s.Kind] = append(links[s.Kind], l.Name)
			}
		}
	}
	// Sized once (a laptop and an account per person at 100,000 people:
	// growing the list copied it a dozen times), and each person's email
	// looked up once however many assets link to them.
	n := 0
	for kind, names := range links {
		n += len(inv.OfKind(kind)) * len(names)
	}
	out := make([]onus.Asset, 0, n)
	emails := make(map[int32]string, len(inv.OfKind(person)))
	for kind, names := range links {
		for _, e := range inv.OfKind(kind) {
			for _, name := range names {
				p, ok := inv.Link(e, name)
				if !ok {
					continue
				}
				email, seen := emails[p]
				if !seen {
					for _, k := range inv.Keys(p) {
						if k.Name == "email" {
							email = k.Value
							break
						}
					}
					emails[p] = email
				}
				if email != "" {
					out = append(out, onus.Asset{Person: email, Entity: inv.ID(e), Kind: kind, Name: inv.Name(e), Link: name})
				}
			}
		}
	}
	return out
}

func countKinds(inv *inventory.Inventory) []KindCount {
	var out []KindCount
	for kind, counts := range inv.CountBySource() {
		kc := KindCount{Kind: kind, Entities: counts[""], BySource: map[string]int{}}
		for src, n := range counts {
			if src != "" {
				kc.BySource[src] = n
			}
		}
		out = append(out, kc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// judge ends expired exceptions, evaluates every control, diffs the results
// with the findings on record and records the changes. It fails with an
// error wrapping onus.ErrChanged when something was decided or written
// since it read the exceptions and findings; nothing is written then.
func (m *Monitor) judge(ctx context.Context, run int64, now time.Time, rep *EvalReport, inv *inventory.Inventory, compiled *evaluate.Compiled, unreadable map[string]bool, p *plan) ([]onus.UnknownResult, *raci.Directory, time.Time, error) {
	cfg := m.Config
	rep.ExceptionsExpiring = nil
	rep.Controls = nil
	// Exceptions that reached their expiry end before anything is judged.
	expired, err := m.Store.ExpireExceptions(ctx, now, ledger.Move(cfg, now))
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	rep.ExceptionsExpired += len(expired)
	// Decisions taken from here on (an approval while this evaluation
	// runs) make ApplyChanges refuse to write, and the caller judges again.
	mark, err := m.Store.DecisionMark(ctx)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	approved, err := m.Store.Exceptions(ctx, onus.ExceptionFilter{States: []onus.ExceptionState{onus.ExceptionApproved}})
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	var inForce []*onus.Exception
	for _, x := range approved {
		if x.Active(now) {
			inForce = append(inForce, x)
			if x.Expires.Before(now.Add(cfg.ExceptionWarnBefore())) {
				rep.ExceptionsExpiring = append(rep.ExceptionsExpiring, x)
			}
		}
	}
	if err := p.checkExceptions(inForce); err != nil {
		return nil, nil, time.Time{}, err
	}

	t2 := m.now()
	dir := evaluate.Directory(inv, compiled)
	evaluated := compiled
	if len(p.carried) > 0 {
		c := *compiled
		c.Controls = slices.DeleteFunc(slices.Clone(compiled.Controls), func(ctl *evaluate.Control) bool { return p.isCarried(ctl.ID) })
		evaluated = &c
	}
	res := evaluate.Evaluate(inv, evaluated, now, evaluate.Options{Directory: dir, Exceptions: inForce})
	rep.Timings.Evaluate = m.since(t2)
	m.phase("evaluate")
	rep.Results = res
	var stats []onus.ControlStat
	var unknowns []onus.UnknownResult
	for _, ctl := range compiled.Controls {
		if st, ok := p.carried[ctl.ID]; ok {
			rep.Controls = append(rep.Controls, ControlReport{Control: ctl.ID, Title: ctl.Title, Severity: string(ctl.Severity),
				Pass: st.Pass, Fail: st.Fail, Unknown: st.Unknown, UnknownReasons: st.Reasons, Carried: true})
			st.Evaluated, st.Inputs, st.Ages = now, p.inputs[ctl.ID], p.ages[ctl.ID]
			stats = append(stats, st)
			continue
		}
		cr := res.Control(ctl.ID)
		reasons := cr.TopUnknownReasons(3)
		rep.Controls = append(rep.Controls, ControlReport{Control: cr.Control.ID, Title: cr.Control.Title, Severity: string(cr.Control.Severity),
			Pass: cr.Pass, Fail: cr.Fail, Unknown: cr.UnknownN, UnknownReasons: reasons})
		stats = append(stats, onus.ControlStat{Control: cr.Control.ID, Pass: cr.Pass, Fail: cr.Fail, Unknown: cr.UnknownN, Reasons: reasons, Evaluated: now,
			Inputs: p.inputs[ctl.ID], Ages: cr.Ages})
		for _, u := range cr.Unknowns {
			unknowns = append(unknowns, onus.UnknownResult{Control: cr.Control.ID, Entity: u.ID, Reason: u.Reason})
		}
	}
	if ctx.Err() != nil {
		return nil, nil, time.Time{}, ctx.Err()
	}

	t3 := m.now()
	// The findings of controls carried over stay as they are: not read.
	prev, err := m.Store.ActiveFindingsExcept(ctx, rep.Carried)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	// Counted as their controls' evaluation before counted them: one that
	// failed then is unchanged, one whose outcome was unknown (it stopped
	// following its control's evaluations) still unknown.
	carriedSame, carriedUnknown, err := m.Store.ActiveCounts(ctx, rep.Carried)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	// Findings recorded by onus gate are resolved by its own runs.
	prev = slices.DeleteFunc(prev, gate.IsGateFinding)
	active := make(map[onus.FindingKey]bool, len(prev))
	for _, f := range prev {
		active[onus.FindingKey{Control: f.Control, Entity: f.Entity}] = true
	}
	var keys []onus.FindingKey
	for _, cr := range res.Controls {
		for _, r := range cr.Failures {
			if k := (onus.FindingKey{Control: cr.Control.ID, Entity: r.ID}); !active[k] {
				keys = append(keys, k)
			}
		}
	}
	closed, err := m.Store.FindingsByKey(ctx, keys)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	changes, st := ledger.Diff(append(prev, closed...), res, inv, now, ledger.Options{RestartDeadline: cfg.Exceptions.RestartDeadline, Unreadable: unreadable})
	st.Unchanged += carriedSame
	st.StillUnknown += carriedUnknown
	rep.Changes = st
	// Interrupted before anything was written: nothing half-recorded.
	if ctx.Err() != nil {
		return nil, nil, time.Time{}, ctx.Err()
	}
	if err := m.Store.ApplyChanges(ctx, run, changes, stats, mark); err != nil {
		return nil, nil, time.Time{}, err
	}
	return unknowns, dir, t3, nil
}
