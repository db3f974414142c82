package raci

import (
	"fmt"
	"sort"
	"strings"

	"github.com/onus-sec/onus/config"
)

// Activity is a row of the matrix.
type Activity = config.Activity

// Severities of matrix problems.
const (
	Error   = "error"
	Warning = "warning"
)

// Problem codes. They are stable: scripts and suppressions may rely on them.
const (
	CodeNoAccountable       = "no-accountable"
	CodeManyAccountable     = "many-accountable"
	CodeNoResponsible       = "no-responsible"
	CodeUnknownRole         = "unknown-role"
	CodeTeamNoLead          = "team-no-lead"
	CodeTeamNoMembers       = "team-no-members"
	CodePersonDeparted      = "person-departed"
	CodePersonOnLeave       = "person-on-leave"
	CodeUnknownActivity     = "control-activity-missing"
	CodeNoActivity          = "control-without-activity"
	CodeUnmonitored         = "activity-unmonitored"
	CodeMixedLetters        = "mixed-letters"
	CodeUnresolvable        = "unresolvable"
	CodeAccountableOverload = "accountable-overload"
	CodeManyConsulted       = "many-consulted"
	CodeManyInformed        = "many-informed"
	CodeUnknownApprover     = "unknown-approver-team"
	CodePeopleSkipped       = "people-checks-skipped"
)

// Problem is one thing wrong with the matrix.
type Problem struct {
	Code     string `json:"code"`
	Severity string `json:"severity"`
	File     string `json:"file"`
	Line     int    `json:"line,omitempty"`
	Activity string `json:"activity,omitempty"`
	Message  string `json:"message"`
	Hint     string `json:"hint"`
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc += fmt.Sprintf(":%d", p.Line)
	}
	return fmt.Sprintf("%s: %s [%s] %s\n    fix: %s", loc, p.Severity, p.Code, p.Message, p.Hint)
}

// Check finds the gaps and disagreements of a matrix, against the
// configuration's controls and the people of the directory. Problems are
// ordered by file and line.
func (m *Matrix) Check(cfg *config.Config) []Problem {
	c := &checker{m: m, cfg: cfg, file: m.File, people: m.Dir != nil && m.Dir.Loaded, accountable: map[string][]string{}}
	if c.file == "" {
		c.file = config.RACIFile
	}
	if !c.people {
		c.add(CodePeopleSkipped, Warning, 0, "", "run onus sync so that people and teams are known, then check again",
			"no people data (nothing synced yet): checks of people, teams and leads were skipped")
	}
	c.teams()
	monitored := c.controls()
	c.approvers()
	for _, a := range m.Activities {
		c.letters(a)
		c.roles(a)
		c.reachable(a)
		c.breadth(a)
		c.monitoredBy(a, monitored)
	}
	c.overload()
	out := c.out
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File > out[j].File // raci.yaml before controls/
		}
		return out[i].Line < out[j].Line
	})
	return out
}

// checker holds one check of a matrix: the problems found so far, and
// who is Accountable for which activities.
type checker struct {
	m      *Matrix
	cfg    *config.Config
	file   string
	people bool // people data is loaded: people, teams and leads can be judged
	out    []Problem
	// accountable lists, per person, the activities they answer for.
	accountable map[string][]string
}

func (c *checker) add(code, sev string, line int, act, hint, format string, args ...any) {
	c.out = append(c.out, Problem{Code: code, Severity: sev, File: c.file, Line: line, Activity: act, Message: fmt.Sprintf(format, args...), Hint: hint})
}

// teams checks the teams declared in the matrix: a lead who works here,
// working members.
func (c *checker) teams() {
	m, people, add := c.m, c.people, c.add
	for _, t := range m.Teams() {
		if !t.Declared {
			continue
		}
		if t.Lead == "" {
			add(CodeTeamNoLead, Error, t.Line, "", "name a lead: the person who answers for the team", "team %s has no lead", t.ID)
		} else if people {
			if p := m.Dir.Person(t.Lead); p != nil && !p.Working() {
				add(CodePersonDeparted, Error, t.Line, "", "name a new lead for the team", "team %s: its lead %s has left", t.ID, t.Lead)
			} else if p != nil && p.Status == OnLeave {
				add(CodePersonOnLeave, Warning, t.Line, "", "name a deputy while the lead is away", "team %s: its lead %s is on leave", t.ID, t.Lead)
			}
		}
		if people && len(t.Members) == 0 && len(m.RACI.Teams[t.ID].Members)+len(m.RACI.Teams[t.ID].Department) > 0 {
			add(CodeTeamNoMembers, Warning, t.Line, "", "check the team's members or department name", "team %s has no working members", t.ID)
		}
	}
}

// controls checks that each control names an activity of the matrix,
// and returns the activities some control monitors.
func (c *checker) controls() map[string]bool {
	m := c.m
	monitored := map[string]bool{}
	for _, ctl := range c.cfg.Controls {
		monitored[ctl.Activity] = true
		switch {
		case ctl.Activity == "":
			c.out = append(c.out, Problem{Code: CodeNoActivity, Severity: Warning, File: ctl.File, Line: ctl.Line,
				Message: fmt.Sprintf("control %s names no activity: nobody is accountable for it", ctl.ID),
				Hint:    "set activity: to the row of raci.yaml this control monitors"})
		case m.Activity(ctl.Activity) == nil:
			c.out = append(c.out, Problem{Code: CodeUnknownActivity, Severity: Error, File: ctl.File, Line: ctl.Line, Activity: ctl.Activity,
				Message: fmt.Sprintf("control %s names activity %s, which is not in the matrix", ctl.ID, ctl.Activity),
				Hint:    "add the activity to raci.yaml, or fix the control's activity"})
		}
	}
	return monitored
}

// approvers checks that the approver teams of exceptions exist.
func (c *checker) approvers() {
	m := c.m
	for _, team := range c.cfg.Exceptions.Approvers {
		if m.Team(team) == nil {
			c.out = append(c.out, Problem{Code: CodeUnknownApprover, Severity: Error, File: c.cfg.File,
				Message: fmt.Sprintf("exceptions.approvers names %s, which is not a team", team),
				Hint:    "declare the team in raci.yaml, or fix the name"})
		}
	}
}

// letters checks one Accountable and at least one Responsible role.
func (c *checker) letters(a *config.Activity) {
	m, add := c.m, c.add
	switch {
	case len(a.A) == 0:
		add(CodeNoAccountable, Error, a.Line, a.ID, "name exactly one role in A: whoever answers for this activity", "activity %s has no Accountable role", a.ID)
	case len(a.A) > 1:
		add(CodeManyAccountable, Error, a.Line, a.ID, "settle who answers for it and keep one role in A; the others can be C", "activity %s has %d Accountable roles (%s): a disagreement to settle", a.ID, len(a.A), strings.Join(a.A, ", "))
	}
	if len(m.Responsible(a)) == 0 {
		add(CodeNoResponsible, Error, a.Line, a.ID, "name who does the work in R (or set options.accountable_is_responsible)", "activity %s has no Responsible role", a.ID)
	}
}

// roles checks each role of an activity: one letter each, a known team
// or person, someone who still works here.
func (c *checker) roles(a *config.Activity) {
	m, people, add := c.m, c.people, c.add
	for _, role := range Roles(a) {
		letters := Letters(a, role)
		if len(letters) > 1 && letters != "RA" {
			add(CodeMixedLetters, Error, a.Line, a.ID, "give the role one letter (A may also be R)", "activity %s: %s holds %s; its part is not settled", a.ID, role, strings.Join(strings.Split(letters, ""), " and "))
		}
		if IsRelative(role) {
			continue
		}
		if !strings.Contains(role, "@") && m.Team(role) == nil {
			add(CodeUnknownRole, Error, a.Line, a.ID, "use a team declared in raci.yaml, an HR department, an e-mail, or asset-owner, manager, team-lead", "activity %s: role %s is not a team, a person or a relative role", a.ID, role)
			continue
		}
		if !people || !strings.Contains(role, "@") {
			continue
		}
		p := m.Dir.Person(role)
		key := strings.Contains(letters, "A") || strings.Contains(letters, "R")
		switch {
		case p == nil:
		case !p.Working() && key:
			add(CodePersonDeparted, Error, a.Line, a.ID, "name who took over their work", "activity %s: %s (%s) has left", a.ID, role, letters)
		case !p.Working():
			add(CodePersonDeparted, Warning, a.Line, a.ID, "remove them or name who took over", "activity %s: %s (%s) has left", a.ID, role, letters)
		case p.Status == OnLeave:
			add(CodePersonOnLeave, Warning, a.Line, a.ID, "name a deputy while they are away", "activity %s: %s (%s) is on leave", a.ID, role, letters)
		}
	}
}

// reachable checks that A and R each end in someone who can act, and
// records who is Accountable.
func (c *checker) reachable(a *config.Activity) {
	m, people, add := c.m, c.people, c.add
	// A and R must each end in someone who can act.
	if people {
		for _, l := range []struct {
			letter string
			roles  []string
		}{{"A", a.A}, {"R", m.Responsible(a)}} {
			// Relative roles resolve per finding; only a list of fixed
			// roles can be judged here.
			static := staticRoles(l.roles)
			if len(static) == 0 || hasRelative(l.roles) || anyUnknown(m, static) {
				continue
			}
			if _, why := m.First(static, Subject{}, DefaultChainLimit); len(why) == len(static) {
				add(CodeUnresolvable, Error, a.Line, a.ID, "name a team with a lead, or a person who works here", "activity %s: %s resolves to no working person (%s)", a.ID, l.letter, strings.Join(why, "; "))
			}
		}
		if len(a.A) == 1 && !IsRelative(a.A[0]) {
			if r, err := m.Resolve(a.A[0], Subject{}, DefaultChainLimit); err == nil {
				c.accountable[r.Person.Email] = append(c.accountable[r.Person.Email], a.ID)
			}
		}
	}
}

// breadth warns of an activity that consults or informs too many.
func (c *checker) breadth(a *config.Activity) {
	m, add := c.m, c.add
	opts := m.Options
	maxC, maxI := opts.WarnConsulted, opts.WarnInformed
	if maxC == 0 {
		maxC = 5
	}
	if maxI == 0 {
		maxI = 10
	}
	if len(a.C) > maxC {
		add(CodeManyConsulted, Warning, a.Line, a.ID, "consult the few whose input changes the outcome; inform the others", "activity %s consults %d roles (more than %d)", a.ID, len(a.C), maxC)
	}
	if len(a.I) > maxI {
		add(CodeManyInformed, Warning, a.Line, a.ID, "inform those who act on the news; a message to everyone is a message to no one", "activity %s informs %d roles (more than %d)", a.ID, len(a.I), maxI)
	}
}

// monitoredBy warns of an activity no control checks.
func (c *checker) monitoredBy(a *config.Activity, monitored map[string]bool) {
	add := c.add
	if !monitored[a.ID] {
		add(CodeUnmonitored, Warning, a.Line, a.ID, "write a control with activity: "+a.ID+", or say in the description how it is checked", "activity %s is monitored by no control: an expectation with no check", a.ID)
	}
}

// overload warns of one person Accountable for most activities.
func (c *checker) overload() {
	m, add := c.m, c.add
	share := m.Options.WarnAccountableShare
	if share == 0 {
		share = 0.5
	}
	if n := len(m.Activities); n >= 4 {
		people := make([]string, 0, len(c.accountable))
		for p := range c.accountable {
			people = append(people, p)
		}
		sort.Strings(people)
		for _, p := range people {
			acts := c.accountable[p]
			if float64(len(acts)) > share*float64(n) {
				add(CodeAccountableOverload, Warning, 0, "", "share the accountability: one person cannot answer for everything",
					"%s is Accountable for %d of %d activities (%s)", p, len(acts), n, strings.Join(acts, ", "))
			}
		}
	}
}

func staticRoles(roles []string) []string {
	var out []string
	for _, r := range roles {
		if !IsRelative(r) {
			out = append(out, r)
		}
	}
	return out
}

// anyUnknown reports whether a role is neither a person nor a team: that
// is reported on its own.
func anyUnknown(m *Matrix, roles []string) bool {
	for _, r := range roles {
		if !strings.Contains(r, "@") && m.Team(r) == nil {
			return true
		}
	}
	return false
}

func hasRelative(roles []string) bool {
	for _, r := range roles {
		if IsRelative(r) {
			return true
		}
	}
	return false
}

// Errors counts the problems of severity error.
func Errors(ps []Problem) int {
	n := 0
	for _, p := range ps {
		if p.Severity == Error {
			n++
		}
	}
	return n
}
