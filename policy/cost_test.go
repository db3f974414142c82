package policy

import (
	"testing"
	"time"

	"github.com/onus-sec/onus/config"
	_ "github.com/onus-sec/onus/source" // the file formats the example configuration names
)

// TestCostTracking checks which programs keep the runtime cost limit:
// those whose worst case cannot be bounded from their tree.
func TestCostTracking(t *testing.T) {
	cfg, err := config.Load("../examples/acme")
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEnv(NewCatalog(cfg), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		src     string
		tracked bool
	}{
		{`entity.kind == "account" && entity.sources.okta.status == "ACTIVE"`, false},
		{`entity.sources.edr.last_seen > now - duration("72h")`, false},
		{`"edr" in entity.sources`, true},
		{`entity.software.exists(s, s.version == "1")`, true},
		{`[1, 2, 3].map(x, [1, 2, 3].map(y, x * y)).size() > 0`, false},
	} {
		p, err := e.Compile("controls.yaml", config.Expr{Src: tc.src, Line: 1}, "", Any)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		if p.tracked != tc.tracked {
			t.Errorf("%s: tracked = %v, want %v", tc.src, p.tracked, tc.tracked)
		}
	}
}
