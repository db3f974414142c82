package monitor_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/inventory"
	"github.com/onus-sec/onus/monitor"
)

// Every line of examples/acme/STORY.txt holds after one run of the loop:
// each gap is an open finding on the thing the line names with the owner
// it names, each "not a gap" has no finding, each "unknown" is unknown,
// each correlation is what explain shows; and every open finding is one
// of the story's lines. A guard counts the lines checked, so that a line
// no rule reads fails the test instead of passing unchecked.
func TestAcmeStoryEveryLine(t *testing.T) {
	e := newEnv(t)
	_, rep := e.run(0)
	inv := rep.Inventory
	cfg := e.monitor().Config
	norm := monitor.Normalizer(cfg)
	open := e.findings(onus.StateOpen)
	b, err := os.ReadFile(filepath.Join(e.dir, "STORY.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}

	emailRE := regexp.MustCompile(`[a-z]+\.[a-z]+@acme\.com`)
	hostRE := regexp.MustCompile(`\b(?:MBP|LT)-[A-Z0-9-]+\b`)
	serialRE := regexp.MustCompile(`\bC0[0-9A-Z]{10}\b`)
	// nameOf is the person an e-mail address names: jane.doe → Jane Doe.
	nameOf := func(email string) string {
		parts := strings.Split(strings.TrimSuffix(email, "@acme.com"), ".")
		for i, p := range parts {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
		return strings.Join(parts, " ")
	}
	about := func(f onus.Finding, email string) bool {
		local := strings.TrimSuffix(email, "acme.com")
		return f.Person != nil && f.Person.Name == nameOf(email) || f.EntityName == nameOf(email) || strings.HasPrefix(f.EntityName, local)
	}
	on := func(f onus.Finding, host string) bool {
		return f.EntityName == host || f.Device != nil && f.Device.Name == host
	}
	entity := func(t *testing.T, ref string) int32 {
		t.Helper()
		es := inv.Find(ref, norm)
		if len(es) != 1 {
			t.Fatalf("%s names %d entities, want 1", ref, len(es))
		}
		return es[0]
	}
	explain := func(t *testing.T, ref string) *inventory.Explanation { return inv.Explain(entity(t, ref)) }
	hasSource := func(x *inventory.Explanation, src string) int {
		n := 0
		for _, r := range x.Records {
			if r.Source == src {
				n++
			}
		}
		return n
	}
	unknowns := map[string]int{}
	for _, c := range rep.Controls {
		unknowns[c.Control] = c.Unknown
	}
	dir, err := e.db.Directory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	told := map[int64]string{} // open findings a line accounts for

	rules := []struct {
		name string
		re   *regexp.Regexp
		// check returns nothing; it reports with t.
		check func(t *testing.T, line string, m []string)
	}{
		{"unknown", regexp.MustCompile(`^([a-z-]+) unknown: `), func(t *testing.T, line string, m []string) {
			if unknowns[m[1]] < 1 {
				t.Errorf("%s has no unknown result", m[1])
			}
			for _, f := range open {
				if f.Control != m[1] {
					continue
				}
				for _, who := range emailRE.FindAllString(line, -1) {
					if about(f, who) {
						t.Errorf("%s is unknown for %s, yet finding #%d is open", m[1], who, f.ID)
					}
				}
				for _, h := range hostRE.FindAllString(line, -1) {
					if on(f, h) {
						t.Errorf("%s is unknown on %s, yet finding #%d is open", m[1], h, f.ID)
					}
				}
			}
		}},
		{"not a gap", regexp.MustCompile(`^not a gap(?: yet)?: ([a-z.]+@acme\.com) `), func(t *testing.T, line string, m []string) {
			control := map[bool]string{true: "app-outdated", false: "background-check-complete"}[strings.Contains(line, " runs ")]
			for _, f := range open {
				if f.Control == control && about(f, m[1]) {
					t.Errorf("%s: finding #%d %s is open", m[1], f.ID, f.Control)
				}
			}
			if len(open) == 0 {
				t.Error("no open findings at all: nothing is checked")
			}
		}},
		{"merged by MAC", regexp.MustCompile(`^correlation: .*laptop (\S+) is matched to its CrowdStrike record by MAC address alone$`), func(t *testing.T, _ string, m []string) {
			if x := explain(t, m[1]); hasSource(x, "edr") != 1 || hasSource(x, "jamf")+hasSource(x, "intune") == 0 {
				t.Errorf("%s is not one entity of its MDM and EDR records: %+v", m[1], x.Records)
			}
		}},
		{"re-imaged", regexp.MustCompile(`^correlation: .* Jamf holds two records with serial (\S+) and onus merges them$`), func(t *testing.T, _ string, m []string) {
			if n := hasSource(explain(t, m[1]), "jamf"); n != 2 {
				t.Errorf("%s holds %d Jamf records, want 2", m[1], n)
			}
		}},
		{"near match", regexp.MustCompile(`^correlation: .* both have a laptop named (\S+) \(serials (\S+) and (\S+)\); onus keeps them apart and explain shows the near match$`), func(t *testing.T, _ string, m []string) {
			a, b := entity(t, m[2]), entity(t, m[3])
			if a == b {
				t.Fatalf("%s and %s are one entity", m[2], m[3])
			}
			if len(inv.Explain(a).NearMatches) == 0 || inv.Name(a) != m[1] || inv.Name(b) != m[1] {
				t.Errorf("%s: no near match shown, or not named %s", m[2], m[1])
			}
		}},
		{"personal address", regexp.MustCompile(`^correlation: ([a-z.]+@acme\.com) applied with a personal address; Checkr knows them by employee id$`), func(t *testing.T, _ string, m []string) {
			if x := explain(t, m[1]); hasSource(x, "checkr") != 1 || hasSource(x, "hr") != 1 {
				t.Errorf("%s is not one person of HR and Checkr: %+v", m[1], x.Records)
			}
		}},
		{"factory name", regexp.MustCompile(`^correlation: .* both kept the factory name (\S+) \(serials (\S+) and (\S+)\); onus ignores the name as junk`), func(t *testing.T, _ string, m []string) {
			for _, serial := range m[2:] {
				x := explain(t, serial)
				ignored := false
				for _, r := range x.Records {
					for _, ig := range r.Ignored {
						ignored = ignored || ig.Value == m[1] || strings.EqualFold(ig.Value, m[1])
					}
				}
				if hasSource(x, "edr") != 1 || len(x.NearMatches) != 0 || !ignored {
					t.Errorf("%s: %d EDR records, %d near matches, name ignored %v", serial, hasSource(x, "edr"), len(x.NearMatches), ignored)
				}
			}
		}},
		{"shared MAC", regexp.MustCompile(`^correlation: Jamf lists the T2 bridge MAC (\S+) on (.*); onus ignores it as a shared virtual MAC: no near match$`), func(t *testing.T, _ string, m []string) {
			hosts := hostRE.FindAllString(m[2], -1)
			seen := map[int32]bool{}
			for _, h := range hosts {
				es := inv.Find(h, norm)
				if len(es) != 1 || seen[es[0]] || len(inv.Explain(es[0]).NearMatches) != 0 {
					t.Errorf("%s: %d entities, or merged with another, or a near match", h, len(es))
					continue
				}
				seen[es[0]] = true
			}
			if len(hosts) != 3 {
				t.Errorf("the line names %d laptops, want 3", len(hosts))
			}
		}},
		{"ownership gap", regexp.MustCompile(`^ownership gap: .* (\S+) has no user in Jamf and no disk encryption; its finding goes to the fallback contact$`), func(t *testing.T, _ string, m []string) {
			for _, f := range open {
				if f.Control == "disk-encryption" && f.EntityName == m[1] && f.Responsible.Email == cfg.Ownership.Fallback && strings.Contains(f.OwnerReason, "ownership gap") {
					told[f.ID] = m[0]
					return
				}
			}
			t.Errorf("no open disk-encryption finding on %s for the fallback contact %s", m[1], cfg.Ownership.Fallback)
		}},
		{"gap", regexp.MustCompile(`^([a-z-]+): ([a-z.]+@acme\.com)`), func(t *testing.T, line string, m []string) {
			owner, viaManager := m[2], ""
			if m[1] == "background-check-complete" {
				// A hire's check is their manager's to chase; one who left
				// hands it up the chain (the owner reason says from whom).
				p := dir.Person(m[2])
				if p == nil || p.Manager == "" {
					t.Fatalf("%s has no manager in the directory", m[2])
				}
				owner, viaManager = p.Manager, p.Manager
			}
			if g := regexp.MustCompile(`finding goes to (?:their former manager )?([a-z.]+@acme\.com)`).FindStringSubmatch(line); g != nil {
				owner = g[1]
			}
			host := ""
			if h := hostRE.FindString(line); h != "" {
				host = h
			}
			for _, f := range open {
				byOwner := f.Responsible.Email == owner
				if viaManager != "" && !byOwner {
					// The manager left: the finding went up the chain.
					byOwner = strings.HasPrefix(f.OwnerReason, "manager of "+viaManager+" (who left on ")
				}
				if f.Control == m[1] && byOwner && about(f, m[2]) && (host == "" || on(f, host)) {
					if prev, dup := told[f.ID]; dup {
						t.Errorf("finding #%d is told by two lines: %q", f.ID, prev)
					}
					told[f.ID] = line
					return
				}
			}
			t.Errorf("no open %s finding about %s on %q owned by %s", m[1], m[2], host, owner)
		}},
	}

	checked := 0
	for _, line := range lines {
		matched := false
		for _, r := range rules {
			if m := r.re.FindStringSubmatch(line); m != nil {
				t.Run(r.name+"/"+clipLine(line), func(t *testing.T) { r.check(t, line, m) })
				matched = true
				checked++
				break
			}
		}
		if !matched {
			t.Errorf("no rule checks the story line %q", line)
		}
	}
	// The story has 33 lines today; one added without a rule fails above,
	// and this guards against the story being read short.
	if checked != len(lines) || checked < 33 {
		t.Errorf("checked %d of %d story lines, want all and at least 33", checked, len(lines))
	}
	for _, f := range open {
		if _, ok := told[f.ID]; !ok {
			t.Errorf("open finding #%d %s on %s (%s) is in no line of the story", f.ID, f.Control, f.EntityName, f.Responsible.Email)
		}
	}
	_ = serialRE
}

func clipLine(s string) string {
	if len(s) > 50 {
		return s[:50]
	}
	return s
}
