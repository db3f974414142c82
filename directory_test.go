package onus

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A member who has not left has no left_on in the API, not year 1.
func TestMemberJSONLeftOn(t *testing.T) {
	b, err := json.Marshal(Member{Email: "jane@acme.com", Status: MemberActive})
	if err != nil || strings.Contains(string(b), "left_on") {
		t.Errorf("active member: %s (%v)", b, err)
	}
	b, err = json.Marshal(Member{Email: "joe@acme.com", Status: MemberDeparted, LeftOn: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)})
	if err != nil || !strings.Contains(string(b), `"left_on":"2026-11-02T00:00:00Z"`) {
		t.Errorf("departed member: %s (%v)", b, err)
	}
}
