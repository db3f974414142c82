package onus

import (
	"context"
	"time"
)

// ExceptionFilter selects exceptions. Zero fields select everything.
type ExceptionFilter struct {
	States  []ExceptionState
	Control string
	Finding int64
	// ExpiringBefore keeps approved exceptions that expire before it.
	ExpiringBefore time.Time
}

// ExceptionEvent is one entry in an exception's history: a request or a
// decision.
type ExceptionEvent struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Note   string    `json:"note,omitempty"`
}

// Decision moves an exception from one state to another.
type Decision struct {
	ID    int64
	From  []ExceptionState // the states the exception must be in
	To    ExceptionState
	Actor string
	Note  string
	// Approver is recorded on approval or rejection.
	Approver string
	// Move is the ledger's rule for the finding of an exception for one
	// finding (ledger.Decided): nil leaves the finding alone.
	Move FindingMove
}

// FindingMove says what a decision does to the finding an exception is
// for: given the finding on record and the exception as decided, it
// returns the change to write, or false when the finding stays as it is.
// The store calls it inside the decision's transaction.
type FindingMove func(f Finding, x *Exception) (FindingChange, bool)

// ExceptionService keeps exceptions and their decisions. Every method
// returns an error wrapping its cause, with EINTERNAL for a storage
// failure.
type ExceptionService interface {
	// CreateException stores a requested exception, with its first event
	// and an audit entry, and sets its id and state.
	CreateException(ctx context.Context, x *Exception) error
	// Exception returns one exception; ENOTFOUND when there is none.
	Exception(ctx context.Context, id int64) (*Exception, error)
	// Exceptions returns the exceptions matching f, soonest to expire first.
	Exceptions(ctx context.Context, f ExceptionFilter) ([]*Exception, error)
	// ExceptionEvents returns an exception's history, oldest first.
	ExceptionEvents(ctx context.Context, id int64) ([]ExceptionEvent, error)
	// Decide applies a decision in one transaction: the exception's new
	// state, its event, the audit entry and, through d.Move, the move of
	// its finding. ENOTFOUND when there is no such exception; ECONFLICT
	// when it is in none of d.From.
	Decide(ctx context.Context, d Decision) (*Exception, error)
	// ExpireExceptions decides as expired every approved exception whose
	// expiry is not after now, moving their findings with move, and
	// returns them.
	ExpireExceptions(ctx context.Context, now time.Time, move FindingMove) ([]*Exception, error)
	// DecisionMark returns a number that grows with every exception
	// event; see FindingService.ApplyChanges.
	DecisionMark(ctx context.Context) (int64, error)
}
