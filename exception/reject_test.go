package exception_test

import (
	"context"
	"strings"
	"testing"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/exception"
)

// Reject: a reason is required; only those who may approve may reject;
// the requester cannot; the exception ends rejected with who and why, the
// finding stays open and chased, and a decided exception cannot be
// rejected again.
func TestReject(t *testing.T) {
	ctx := context.Background()
	svc, db, clk := setup(t)
	x, err := svc.Request(ctx, exception.Request{Finding: 1, Reason: "replaced in January", Expires: clk.t.Add(30 * day), Requester: "jane@x.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		who, note, want string
		code            string
	}{
		{"ada@x.com", "  ", "say why the exception is rejected", onus.EINVALID},
		{"jane@x.com", "no", "cannot decide it", onus.ECONFLICT},
		{"bob@x.com", "no", "may not decide exception 1", ""},
	} {
		if _, err := svc.Reject(ctx, x.ID, tc.who, tc.note); err == nil || !strings.Contains(err.Error(), tc.want) || tc.code != "" && onus.ErrorCode(err) != tc.code {
			t.Errorf("reject by %s with %q: %v, want %q", tc.who, tc.note, err, tc.want)
		}
	}
	if got, _ := db.Exception(ctx, x.ID); got.State != onus.ExceptionRequested {
		t.Fatalf("a refused rejection moved the exception to %s", got.State)
	}
	got, err := svc.Reject(ctx, x.ID, "Ada@X.com", "patch it this week instead")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != onus.ExceptionRejected || got.Approver != "ada@x.com" {
		t.Errorf("rejected = state %s, approver %q", got.State, got.Approver)
	}
	if stored, _ := db.Exception(ctx, x.ID); stored.State != onus.ExceptionRejected || stored.DecidedAt == nil || !stored.DecidedAt.Equal(clk.t) {
		t.Errorf("stored: state %s, decided %v, want rejected at %v", stored.State, stored.DecidedAt, clk.t)
	}
	// The exception's history says who rejected it and why.
	events, err := db.ExceptionEvents(ctx, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := events[len(events)-1]; last.Actor != "ada@x.com" || last.Action != "rejected" || last.Note != "patch it this week instead" {
		t.Errorf("last exception event = %+v", last)
	}
	if f := finding(t, db, 1); f.State != onus.StateOpen || f.Exception != 0 {
		t.Errorf("after rejection the finding is %s (exception %d), want open without one", f.State, f.Exception)
	}
	if _, err := svc.Reject(ctx, x.ID, "ada@x.com", "again"); onus.ErrorCode(err) != onus.ECONFLICT {
		t.Errorf("second rejection: %v, want a conflict", err)
	}
	if _, err := svc.Approve(ctx, x.ID, "ada@x.com", "changed my mind"); onus.ErrorCode(err) != onus.ECONFLICT {
		t.Errorf("approval after rejection: %v, want a conflict", err)
	}
	if _, err := svc.Reject(ctx, 99, "ada@x.com", "no"); onus.ErrorCode(err) != onus.ENOTFOUND {
		t.Errorf("rejecting an unknown exception: %v, want not found", err)
	}
}
