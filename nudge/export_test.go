package nudge

import "testing"

// What payload_test.go (package nudge_test, which links the channel
// packages) needs from the internal test helpers.
var (
	RenderHostile = func(t *testing.T) map[string]*Rendered { return renderAll(t, hostileWorld(t)) }
	Hostile       = hostile
	Clean         = clean
	Update        = update
)
