package onus

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// State is where a finding is in its life.
type State string

// Finding states.
const (
	StateOpen     State = "open"     // the check fails
	StateResolved State = "resolved" // the check passed after failing
	StateExempted State = "exempted" // an approved exception accepts the risk
	StateGone     State = "gone"     // the entity left every source, or the control was removed
)

// ParseState returns the state named s.
func ParseState(s string) (State, error) {
	switch st := State(s); st {
	case StateOpen, StateResolved, StateExempted, StateGone:
		return st, nil
	}
	return "", Errorf(EINVALID, "unknown finding state %q (want open, resolved, exempted or gone)", s)
}

// Outcome is the result of evaluating one control on one entity. There are
// three, not two: a check that cannot be evaluated is Unknown, never a pass
// and never a failure.
type Outcome uint8

// Outcomes.
const (
	Pass Outcome = iota
	Fail
	Unknown
)

func (o Outcome) String() string {
	switch o {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	}
	return "unknown"
}

// Severity ranks how much a gap matters; it sets the default deadline.
type Severity string

// Severities, most urgent first.
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
)

// Severities lists the severities, most urgent first.
var Severities = []Severity{Critical, High, Medium, Low}

// ParseSeverity returns the severity named s.
func ParseSeverity(s string) (Severity, error) {
	for _, v := range Severities {
		if string(v) == s {
			return v, nil
		}
	}
	return "", fmt.Errorf("unknown severity %q (want critical, high, medium or low)", s)
}

// Rank orders severities: 0 for critical, larger is less urgent.
func (s Severity) Rank() int {
	for i, v := range Severities {
		if v == s {
			return i
		}
	}
	return len(Severities)
}

// Person is the identity of someone a finding is assigned to.
type Person struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
	// Entity is the inventory id of the person, empty for a fallback contact.
	Entity string `json:"entity,omitempty"`
}

// Subject names an entity a finding is about, beside the entity itself:
// the person an account belongs to, the laptop a piece of software is on.
type Subject struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Evidence is one value that made a check fail, as read during evaluation.
type Evidence struct {
	Path  string `json:"path"`  // "sources.edr.last_seen"
	Value string `json:"value"` // "2026-11-02T10:00:00Z (28 days ago)"
}

// Finding is a (control, entity) pair that failed at some point, with one
// Responsible person and a due date.
type Finding struct {
	ID         int64  `json:"id"`
	Control    string `json:"control"`
	Entity     string `json:"entity"`
	EntityKind string `json:"entity_kind"`
	EntityName string `json:"entity_name"`
	// Person and Device name the finding's subject: the person an
	// account, a laptop or a piece of software belongs to, and the device
	// a piece of software runs on. Nil when the entity is itself the
	// person, or links to none.
	Person      *Subject `json:"person,omitempty"`
	Device      *Subject `json:"device,omitempty"`
	Severity    Severity `json:"severity"`
	State       State    `json:"state"`
	Responsible Person   `json:"responsible"`
	// OwnerReason says how the Responsible person was found ("owner of the
	// device", "manager of jane@… who left").
	OwnerReason string `json:"owner_reason"`
	// OwnershipGap is set when no person could be found and the finding fell
	// to the fallback contact (or to nobody).
	OwnershipGap bool `json:"ownership_gap"`
	// Accountable answers for the finding's activity: the A of the matrix.
	Accountable Person `json:"accountable"`
	// Consulted and Informed are the e-mails of the C and I people.
	Consulted []string `json:"consulted,omitempty"`
	Informed  []string `json:"informed,omitempty"`
	// Exception is the approved exception that exempts the finding, if any.
	Exception   int64      `json:"exception,omitempty"`
	FirstFailed time.Time  `json:"first_failed"`
	LastFailed  time.Time  `json:"last_failed"`
	Due         time.Time  `json:"due"`
	ResolvedAt  *time.Time `json:"resolved_at,omitempty"`
	Evidence    []Evidence `json:"evidence"`
	UpdatedAt   time.Time  `json:"updated_at"`

	// StillFailing is set when the finding failed at the latest evaluation
	// of its control: its LastFailed is that evaluation's instant. The
	// ledger sets it; the store keeps it, so that a finding failing again
	// unchanged is not written again.
	StillFailing bool `json:"-"`
	// Stored identifies the finding's row as the store read it; a change
	// that would write the same row is not written. Empty for a finding
	// not read from a store.
	Stored string `json:"-"`
}

// Overdue reports whether an open finding is past its due date at now.
func (f *Finding) Overdue(now time.Time) bool {
	return f.State == StateOpen && !f.Due.IsZero() && now.After(f.Due)
}

// ExceptionState is where an exception is in its life.
type ExceptionState string

// Exception states. Every move from one to another is kept as an event.
const (
	ExceptionRequested ExceptionState = "requested"
	ExceptionApproved  ExceptionState = "approved"
	ExceptionRejected  ExceptionState = "rejected"
	ExceptionExpired   ExceptionState = "expired"
	ExceptionRevoked   ExceptionState = "revoked"
)

// Exception is an accepted risk: for one finding, or for a control over a
// scope (a CEL filter over its entities), until it expires.
type Exception struct {
	ID      int64  `json:"id"`
	Control string `json:"control"`
	// Finding and Entity are set for an exception for one finding.
	Finding int64  `json:"finding,omitempty"`
	Entity  string `json:"entity,omitempty"`
	// Scope is a CEL filter for an exception over part of a control.
	Scope       string         `json:"scope,omitempty"`
	Severity    Severity       `json:"severity"`
	Reason      string         `json:"reason"`
	Requester   string         `json:"requester"`
	RequestedAt time.Time      `json:"requested_at"`
	Expires     time.Time      `json:"expires"`
	State       ExceptionState `json:"state"`
	Approver    string         `json:"approver,omitempty"`
	DecidedAt   *time.Time     `json:"decided_at,omitempty"`
	// Replaces is the exception this one extends.
	Replaces int64 `json:"replaces,omitempty"`
}

// Active reports whether the exception exempts findings at now.
func (x *Exception) Active(now time.Time) bool {
	return x.State == ExceptionApproved && now.Before(x.Expires)
}

// EventType says what happened to a finding. The values are stored and
// appear in JSON output and in the history pages: they are stable.
type EventType string

// Event types.
const (
	EventOpened   EventType = "opened"   // first failure; From is empty, To is open
	EventReopened EventType = "reopened" // failing again after resolved or gone, or its exception ended
	EventResolved EventType = "resolved" // the check passes, or the entity left the scope
	EventGone     EventType = "gone"     // the entity or the control is gone
	EventExempted EventType = "exempted" // an approved exception covers it
	// EventReassigned: the Responsible person changed (From and To are e-mails).
	EventReassigned EventType = "reassigned"
	// EventReidentified: the entity is known under a new id (From and To are ids).
	EventReidentified EventType = "reidentified"
	// EventTold: a message about the finding was sent (To is the recipient).
	EventTold EventType = "told"
	// EventFixClaimed: someone said in the web app that they fixed it.
	EventFixClaimed EventType = "fix_claimed"
)

// Event is one entry in a finding's history.
type Event struct {
	FindingID int64     `json:"finding_id"`
	At        time.Time `json:"at"`
	Run       int64     `json:"run"`
	Type      EventType `json:"type"`
	From      string    `json:"from,omitempty"`
	To        string    `json:"to,omitempty"`
	Note      string    `json:"note,omitempty"`
}

// FindingKey identifies a finding: one control on one entity.
type FindingKey struct {
	Control string
	Entity  string
}

// FindingChange is a finding to store: new, or changed, with the events
// that explain the change. The ledger package makes them; a
// FindingService writes them.
type FindingChange struct {
	Finding Finding
	New     bool
	Events  []Event
	// Prior and PriorException are the state and exception of a finding on
	// record as the change read it: the store writes the change only if the
	// finding is still so, and refuses it otherwise (a decision or another
	// run changed it meanwhile).
	Prior          State
	PriorException int64
}

// FindingFilter selects findings. Zero fields select everything.
type FindingFilter struct {
	Owner       string   // responsible e-mail
	Accountable string   // accountable e-mail
	Control     string   // control id
	NotControls []string // none of these controls
	States      []State  // any of these; all states when empty
	Kind        string   // entity kind
	Entity      string   // entity id
	// OverdueAt keeps open findings due before this time.
	OverdueAt time.Time
	// ResolvedSince keeps findings resolved at or after this time.
	ResolvedSince time.Time
	Limit         int
}

// ControlStat is what one evaluation found for one control.
type ControlStat struct {
	Control             string   `json:"control"`
	Pass, Fail, Unknown int      `json:"-"`
	Reasons             []string `json:"unknown_reasons,omitempty"`
	// Evaluated, when set, is the instant the control was evaluated at:
	// the last failure of its findings that still fail and were not
	// written again (onus.Finding.StillFailing).
	Evaluated time.Time `json:"-"`
	// Inputs are the digests of what the evaluation of the control read
	// (monitor's incremental evaluation), kept with its evaluation stamp;
	// Ages is set when a failure's evidence showed a time with its age.
	Inputs string `json:"-"`
	Ages   bool   `json:"-"`
}

// ControlInputs is a control's latest evaluation stamp: when, by which
// run, and the digests of what it read (ControlStat.Inputs).
type ControlInputs struct {
	Control string
	At      time.Time
	Run     int64
	Inputs  string
	Ages    bool
}

// UnknownResult is a (control, entity) pair the latest evaluation could
// not evaluate, and why.
type UnknownResult struct {
	Control string `json:"control"`
	Entity  string `json:"entity"`
	Reason  string `json:"reason"`
}

// OwnerCount is one person's open findings.
type OwnerCount struct {
	Email   string `json:"email"`
	Name    string `json:"name,omitempty"`
	Open    int    `json:"open"`
	Overdue int    `json:"overdue"`
}

// LedgerStats counts the ledger at a time.
type LedgerStats struct {
	Open      int            `json:"open"`
	Overdue   int            `json:"overdue"`
	Exempted  int            `json:"exempted"`
	Resolved  int            `json:"resolved"`
	Gone      int            `json:"gone"`
	Gaps      int            `json:"ownership_gaps"`
	ByControl map[string]int `json:"open_by_control"`
	Owners    []OwnerCount   `json:"owners"`
}

// ErrChanged is wrapped by the ECONFLICT error of a write refused because
// the findings or the exceptions changed since the writer read them: the
// caller reads and evaluates again.
var ErrChanged = errors.New("changed during the evaluation")

// FindingService keeps the findings ledger. Every method returns an
// error wrapping its cause, with EINTERNAL for a storage failure.
type FindingService interface {
	// Finding returns one finding; ENOTFOUND when there is none.
	Finding(ctx context.Context, id int64) (Finding, error)
	// Findings returns the findings matching f, most urgent first
	// (severity, then due date); none is an empty list, not an error.
	Findings(ctx context.Context, f FindingFilter) ([]Finding, error)
	// ActiveFindings returns the open and exempted findings.
	ActiveFindings(ctx context.Context) ([]Finding, error)
	// FindingsByKey returns the findings on record for the given keys;
	// keys with none are left out.
	FindingsByKey(ctx context.Context, keys []FindingKey) ([]Finding, error)
	// Events returns a finding's history, oldest first.
	Events(ctx context.Context, finding int64) ([]Event, error)
	// ApplyChanges writes an evaluation's changes and its per-control
	// statistics, all or nothing. mark, unless negative, is the
	// ExceptionService.DecisionMark read before the exceptions in force
	// were read. It fails with ECONFLICT wrapping ErrChanged, writing
	// nothing, when an exception was decided since mark or a finding is
	// no longer in the state its change read (Prior, PriorException).
	ApplyChanges(ctx context.Context, run int64, changes []FindingChange, stats []ControlStat, mark int64) error
	// Stats counts the findings by state, control and owner as of now.
	Stats(ctx context.Context, now time.Time) (*LedgerStats, error)
}
