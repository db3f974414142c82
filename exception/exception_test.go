package exception_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/exception"
	"github.com/onus-sec/onus/internal/testclock"
	"github.com/onus-sec/onus/ledger"
	"github.com/onus-sec/onus/raci"
	"github.com/onus-sec/onus/store"
)

var day = 24 * time.Hour

// clock is a fake clock the test moves.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// setup stores two open findings (a high one Ada answers for, a low one)
// and a directory with a security team, in a real SQLite file.
func setup(t *testing.T) (*exception.Service, *store.DB, *clock) {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: testclock.Shifted(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))}
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.Clock = onus.ClockFunc(clk.now)
	run, _ := db.BeginRun(ctx, "eval", "test", clk.t)
	mk := func(control, entity string, sev onus.Severity) onus.FindingChange {
		return onus.FindingChange{New: true, Finding: onus.Finding{Control: control, Entity: entity, EntityKind: "device", EntityName: entity, Severity: sev,
			State: onus.StateOpen, Responsible: onus.Person{Email: "jane@x.com"}, Accountable: onus.Person{Email: "ada@x.com"},
			FirstFailed: clk.t.Add(-2 * day), LastFailed: clk.t, Due: clk.t.Add(5 * day), UpdatedAt: clk.t}}
	}
	if err := db.ApplyChanges(ctx, run, []onus.FindingChange{mk("edr", "device:serial:A", onus.High), mk("patch", "device:serial:B", onus.Low)}, nil, -1); err != nil {
		t.Fatal(err)
	}
	if err := db.ReplaceDirectory(ctx, []*raci.Person{
		{Email: "ada@x.com", Status: raci.Active}, {Email: "jane@x.com", Status: raci.Active},
		{Email: "sam@x.com", Status: raci.Active, Team: "Security"}, {Email: "bob@x.com", Status: raci.Active},
	}, nil); err != nil {
		t.Fatal(err)
	}
	r, _ := config.ParseRACI("raci.yaml", strings.NewReader(`
teams:
  security: { lead: sec.lead@x.com, department: Security }
activities:
  - { id: endpoint, R: [asset-owner], A: [ada@x.com] }
`))
	cfg := &config.Config{File: "onus.yaml", RACI: r,
		Exceptions: config.Exceptions{Approvers: []string{"security"}},
		Controls: []*config.Control{
			{ID: "edr", Activity: "endpoint", Severity: "high", Kind: "device", Check: config.Expr{Src: "true"}},
			{ID: "patch", Activity: "endpoint", Severity: "low", Check: config.Expr{Src: "true"}},
		},
		Sources: []*config.Source{{Name: "mdm", Kind: "device", Map: config.Map{Fields: map[string]*config.Field{"model": {Path: "m"}}}}},
	}
	return &exception.Service{Store: db, Config: cfg, Clock: onus.ClockFunc(clk.now)}, db, clk
}

func finding(t *testing.T, db *store.DB, id int64) onus.Finding {
	t.Helper()
	f, err := db.Finding(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestWorkflow(t *testing.T) {
	ctx := context.Background()
	svc, db, clk := setup(t)
	x, err := svc.Request(ctx, exception.Request{Finding: 1, Reason: "replaced in January", Expires: clk.t.Add(30 * day), Requester: "jane@x.com"})
	if err != nil {
		t.Fatal(err)
	}
	if x.State != onus.ExceptionRequested || x.Severity != onus.High || x.Control != "edr" {
		t.Fatalf("requested = %+v", x)
	}
	// The requester can never approve their own; nor can someone who is
	// neither Accountable nor in an approver team.
	if _, err := svc.Approve(ctx, x.ID, "jane@x.com", ""); err == nil || onus.ErrorCode(err) != onus.ECONFLICT || !strings.Contains(err.Error(), "cannot decide it") {
		t.Errorf("self-approval: %v", err)
	}
	if _, err := svc.Approve(ctx, x.ID, "bob@x.com", ""); err == nil || !strings.Contains(err.Error(), "may not decide exception 1") {
		t.Errorf("approval by a bystander: %v", err)
	}
	if f := finding(t, db, 1); f.State != onus.StateOpen {
		t.Fatalf("a refused approval moved the finding to %s", f.State)
	}
	// The Accountable person approves: the finding is exempted at once.
	if _, err := svc.Approve(ctx, x.ID, "ada@x.com", "ok"); err != nil {
		t.Fatal(err)
	}
	f := finding(t, db, 1)
	if f.State != onus.StateExempted || f.Exception != x.ID {
		t.Fatalf("after approval finding = %s (exception %d)", f.State, f.Exception)
	}
	// A decision cannot be made twice.
	if _, err := svc.Approve(ctx, x.ID, "ada@x.com", ""); onus.ErrorCode(err) != onus.ECONFLICT {
		t.Errorf("second approval: %v", err)
	}
	// An extension is a new request, approved again; it replaces the original.
	ext, err := svc.Extend(ctx, x.ID, clk.t.Add(60*day), "jane@x.com", "the laptop is late")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Approve(ctx, ext.ID, "sam@x.com", ""); err != nil { // a member of the security team
		t.Fatal(err)
	}
	if old, _ := db.Exception(ctx, x.ID); old.State != onus.ExceptionRevoked {
		t.Errorf("the extended exception is %s, want revoked (replaced)", old.State)
	}
	if f := finding(t, db, 1); f.Exception != ext.ID || f.State != onus.StateExempted {
		t.Errorf("finding after extension: %s, exception %d", f.State, f.Exception)
	}
	// Time passes: at expiry the finding reopens with its original first
	// failure and due date.
	clk.t = clk.t.Add(61 * day)
	expired, err := db.ExpireExceptions(ctx, clk.t, ledger.Move(svc.Config, clk.t))
	if err != nil || len(expired) != 1 || expired[0].ID != ext.ID {
		t.Fatalf("expired = %v, %v", expired, err)
	}
	f = finding(t, db, 1)
	if f.State != onus.StateOpen || f.Exception != 0 || !f.FirstFailed.Equal(testclock.Shifted(time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))) || !f.Due.Equal(testclock.Shifted(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))) {
		t.Errorf("after expiry finding = %+v", f)
	}
	// Every decision is kept, in order.
	var actions []string
	for _, id := range []int64{x.ID, ext.ID} {
		events, _ := db.ExceptionEvents(ctx, id)
		for _, e := range events {
			actions = append(actions, e.Action+" by "+e.Actor)
		}
	}
	want := "requested by jane@x.com,approved by ada@x.com,revoked by sam@x.com,requested by jane@x.com,approved by sam@x.com,expired by onus"
	if strings.Join(actions, ",") != want {
		t.Errorf("history = %v", actions)
	}
	history, _ := db.Events(ctx, 1)
	var types []string
	for _, e := range history {
		types = append(types, string(e.Type))
	}
	if strings.Join(types, ",") != "exempted,exempted,reopened" {
		t.Errorf("finding history = %v", types)
	}
	audit, _ := db.AuditLog(ctx, 100)
	if len(audit) < 6 {
		t.Errorf("audit log has %d entries, want every decision", len(audit))
	}
}

func TestRequestRules(t *testing.T) {
	ctx := context.Background()
	svc, _, clk := setup(t)
	tests := []struct {
		r    exception.Request
		want string
	}{
		{exception.Request{Finding: 1, Expires: clk.t.Add(day), Requester: "jane@x.com"}, "needs a reason"},
		{exception.Request{Finding: 1, Reason: "r", Expires: clk.t.Add(day)}, "--as must be an e-mail address"},
		{exception.Request{Finding: 1, Reason: "r", Expires: clk.t.Add(-day), Requester: "jane@x.com"}, "not in the future"},
		{exception.Request{Finding: 1, Reason: "r", Expires: clk.t.Add(91 * day), Requester: "jane@x.com"}, "a high exception may last at most 90d"},
		{exception.Request{Finding: 99, Reason: "r", Expires: clk.t.Add(day), Requester: "jane@x.com"}, "no finding 99"},
		{exception.Request{Control: "edr", Reason: "r", Expires: clk.t.Add(day), Requester: "jane@x.com"}, "needs --scope"},
		{exception.Request{Control: "nope", Scope: "true", Reason: "r", Expires: clk.t.Add(day), Requester: "jane@x.com"}, "no control nope"},
		{exception.Request{Control: "edr", Scope: `entity.modle == "x"`, Reason: "r", Expires: clk.t.Add(day), Requester: "jane@x.com"}, "does not compile"},
		{exception.Request{Finding: 1, Control: "edr", Reason: "r", Expires: clk.t.Add(day), Requester: "jane@x.com"}, "not both"},
		{exception.Request{Reason: "r", Expires: clk.t.Add(day), Requester: "jane@x.com"}, "say what to exempt"},
	}
	for _, tt := range tests {
		if _, err := svc.Request(ctx, tt.r); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Request(%+v) = %v, want %q", tt.r, err, tt.want)
		}
	}
	// A low finding may be exempted for a year; a scope that compiles is accepted.
	if _, err := svc.Request(ctx, exception.Request{Finding: 2, Reason: "r", Expires: clk.t.Add(365 * day), Requester: "jane@x.com"}); err != nil {
		t.Errorf("a year for a low finding: %v", err)
	}
	x, err := svc.Request(ctx, exception.Request{Control: "edr", Scope: `entity.model == "Mac mini"`, Reason: "build agents", Expires: clk.t.Add(30 * day), Requester: "jane@x.com"})
	if err != nil {
		t.Fatal(err)
	}
	// A scope exception is decided by the activity's Accountable person.
	if _, err := svc.Approve(ctx, x.ID, "ada@x.com", ""); err != nil {
		t.Errorf("approval by the activity's Accountable: %v", err)
	}
	// Rejection needs a reason; revocation by the requester is a withdrawal.
	y, _ := svc.Request(ctx, exception.Request{Finding: 1, Reason: "r", Expires: clk.t.Add(day), Requester: "jane@x.com"})
	if _, err := svc.Reject(ctx, y.ID, "ada@x.com", ""); err == nil || !strings.Contains(err.Error(), "say why") {
		t.Errorf("reject without a note: %v", err)
	}
	if r, err := svc.Revoke(ctx, y.ID, "jane@x.com", "no longer needed"); err != nil || r.State != onus.ExceptionRevoked {
		t.Errorf("withdrawal: %v, %v", r, err)
	}
}
