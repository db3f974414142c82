package onus_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/onus-sec/onus"
)

func TestErrorf(t *testing.T) {
	cause := errors.New("disk full")
	other := errors.New("locked")
	tests := []struct {
		name    string
		err     *onus.Error
		message string
		wraps   []error
	}{
		{"no cause", onus.Errorf(onus.EINVALID, "bad %s", "flag"), "bad flag", nil},
		{"one cause", onus.Errorf(onus.EINTERNAL, "save: %w", cause), "save: disk full", []error{cause}},
		{"two causes", onus.Errorf(onus.ECONFLICT, "%w and %w", cause, other), "disk full and locked", []error{cause, other}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err.Message != tt.message || tt.err.Error() != tt.message {
				t.Errorf("message = %q, want %q", tt.err.Message, tt.message)
			}
			for _, w := range tt.wraps {
				if !errors.Is(tt.err, w) {
					t.Errorf("%v does not wrap %v", tt.err, w)
				}
			}
			if len(tt.wraps) == 0 && tt.err.Unwrap() != nil {
				t.Errorf("cause = %v, want none", tt.err.Unwrap())
			}
		})
	}
}

// TestErrorCode checks that the code is found through wrapping: callers
// test for a missing thing with ErrorCode(err) == ENOTFOUND, never with a
// sentinel of a store.
func TestErrorCode(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("plain"), onus.EINTERNAL},
		{onus.Errorf(onus.ENOTFOUND, "no finding 3"), onus.ENOTFOUND},
		{fmt.Errorf("report: %w", onus.Errorf(onus.ENOTFOUND, "no run")), onus.ENOTFOUND},
		{errors.Join(errors.New("other"), onus.Errorf(onus.ENOTFOUND, "no run")), onus.ENOTFOUND},
		{onus.Errorf(onus.ECONFLICT, "taken: %w", onus.ErrChanged), onus.ECONFLICT},
	}
	for _, tt := range tests {
		if got := onus.ErrorCode(tt.err); got != tt.want {
			t.Errorf("ErrorCode(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
