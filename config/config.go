// Package config reads an onus configuration directory: onus.yaml (sources,
// correlation, deadlines), raci.yaml (the responsibility matrix) and
// controls/*.yaml (one control, or a list of them, per file).
//
// Parsing is separate from reading files (Parse* take an io.Reader), unknown
// keys are errors, and every error carries the file and line it is about.
// Expressions are kept as source text with their position; the policy
// package compiles them and reports CEL errors at the same position.
package config

import (
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/onus-sec/onus"
)

// Version is the configuration format this build reads. A file that
// declares a newer version is refused rather than half understood.
const Version = 1

// Config is a whole configuration directory.
type Config struct {
	// Dir is the directory the configuration was read from; relative paths
	// in it (export files, the database) are relative to Dir.
	Dir string `yaml:"-"`
	// File is the path of onus.yaml, for error messages.
	File string `yaml:"-"`

	Version   int                 `yaml:"version"`
	Database  string              `yaml:"database"`
	Sources   []*Source           `yaml:"sources"`
	Correlate map[string][]string `yaml:"correlate"`
	// PossibleMatch lists, per kind, keys that never merge records but
	// show a possible match to confirm with onus link (a name, a personal
	// e-mail address a candidate applied with).
	PossibleMatch map[string][]string `yaml:"possible_match"`
	Identity      Identity            `yaml:"identity"`
	People        People              `yaml:"people"`
	Deadlines     map[string]Duration `yaml:"deadlines"`
	Health        Health              `yaml:"health"`
	Ownership     Ownership           `yaml:"ownership"`
	Exceptions    Exceptions          `yaml:"exceptions"`
	Nudges        Nudges              `yaml:"nudges"`
	Schedule      Jobs                `yaml:"schedule"`
	Serve         Serve               `yaml:"serve"`

	// Controls and RACI come from their own files.
	Controls []*Control `yaml:"-"`
	RACI     *RACI      `yaml:"-"`

	positions *document
}

// Identity holds organisation-wide key normalisation settings.
type Identity struct {
	EmailAliases map[string]string `yaml:"email_aliases"`
	StripPlus    bool              `yaml:"strip_plus"`
	Junk         []string          `yaml:"junk"`
	KeyTypes     map[string]string `yaml:"key_types"`
}

// People says which entities are people and how to tell who has left.
type People struct {
	// Kind is the entity kind of people; "person" by default.
	Kind string `yaml:"kind"`
	// Departed is a CEL expression over a person entity that is true when the
	// person has left the organisation.
	Departed Expr `yaml:"departed"`
	// OnLeave is true when the person is temporarily away; findings still go
	// to them, and later issues use it to route escalations.
	OnLeave Expr `yaml:"on_leave"`
	// Manager is the link from a person to their manager; "manager" by default.
	Manager string `yaml:"manager"`
	// Team is the link from a person to their team; "team" by default.
	Team string `yaml:"team"`
	// LeftOn is a CEL expression giving the time a departed person left,
	// for messages such as "reassigned because jane left on 3 Nov".
	LeftOn Expr `yaml:"left_on"`
	// TimeZone is a CEL expression giving a person's IANA time zone
	// ("Europe/Berlin"); messages reach them in their working hours.
	TimeZone Expr `yaml:"time_zone"`
	// Channel is a CEL expression giving a person's preferred channel
	// ("slack", "teams", "webhook"); e-mail when empty or unavailable.
	Channel Expr `yaml:"channel"`
}

// Nudges configures personal messages: when people hear about their
// findings, and through which channels.
type Nudges struct {
	// Schedule per severity ("default" for the others).
	Schedule map[string]Schedule `yaml:"schedule"`
	// WorkingDays are the days messages go out (mon … sun); Monday to Friday by default.
	WorkingDays []string `yaml:"working_days"`
	// WorkingHours are the local hours messages go out, "09:00-18:00" by default.
	WorkingHours string `yaml:"working_hours"`
	// MaxPerDay is the most messages one person gets in a day (2 by default).
	MaxPerDay int `yaml:"max_per_day"`
	// SummaryDay is the day Informed people get their weekly summary (mon by default).
	SummaryDay string `yaml:"summary_day"`
	// TimeZone is used for people without one (UTC by default).
	TimeZone string `yaml:"time_zone"`
	// DefaultChannel is the channel of people without a preference (email).
	DefaultChannel string `yaml:"default_channel"`
	// Fallback receives escalations for a role with no person; it is
	// reported as an ownership gap.
	Fallback string `yaml:"fallback"`
	// ExceptionURL and FindingURL are text/templates of links put in
	// messages ({{.ID}} is the finding id).
	FindingURL   string `yaml:"finding_url"`
	ExceptionURL string `yaml:"exception_url"`
	// Templates is a directory of message templates overriding the
	// built-in ones (digest.txt.tmpl, digest.html.tmpl, …).
	Templates string `yaml:"templates"`
	// Nouns name each entity kind in messages ("your laptop MBP-JANE"
	// with device: laptop); the kind itself by default.
	Nouns map[string]string `yaml:"nouns"`
	// Channels configures each channel: each channel package registers
	// its own section (RegisterChannel).
	Channels Channels `yaml:"channels"`
	// Retry bounds delivery attempts.
	MaxAttempts int `yaml:"max_attempts"`
}

// Schedule is when one severity's findings are brought up.
type Schedule struct {
	// RemindBefore sends a reminder this long before the due date.
	RemindBefore *Duration `yaml:"remind_before"`
	// OverdueEvery repeats the reminder this often once overdue.
	OverdueEvery *Duration `yaml:"overdue_every"`
	// EscalateAfter escalates to the manager and the Accountable person
	// this long after the due date; EscalateEvery repeats it.
	EscalateAfter *Duration `yaml:"escalate_after"`
	EscalateEvery *Duration `yaml:"escalate_every"`
	// Immediate sends the first notice of a finding of this severity as
	// soon as it is planned, at any hour and beyond max_per_day, instead
	// of waiting for the person's working hours.
	Immediate bool `yaml:"immediate"`
}

// Health sets when a sync is suspicious enough to keep the last good
// snapshot in force instead.
type Health struct {
	// MaxShrink is the largest fraction of records a source may lose since
	// its last good sync (0.2: more than 20% fewer makes it unhealthy).
	MaxShrink *float64 `yaml:"max_shrink"`
	// MaxBadRecords is the largest fraction of malformed records a sync may
	// skip before it fails as a whole (0.05 by default).
	MaxBadRecords *float64 `yaml:"max_bad_records"`
}

// Ownership settings for findings nobody can be found for.
type Ownership struct {
	// Fallback receives findings that resolve to no person; each such
	// finding is still reported as an ownership gap.
	Fallback string `yaml:"fallback"`
	// ChainLimit bounds how far up the management chain a finding moves
	// when its owner and their managers have left (3 by default).
	ChainLimit int `yaml:"chain_limit"`
}

// Exceptions configures accepted risk.
type Exceptions struct {
	// Max is the longest an exception may last, per severity (critical
	// 30d, high 90d, medium 180d, low 365d by default).
	Max map[string]Duration `yaml:"max"`
	// WarnBefore is how long before expiry the owner and approver are
	// warned (10d by default).
	WarnBefore *Duration `yaml:"warn_before"`
	// RestartDeadline gives a finding whose exception expired a new
	// deadline from the expiry; by default it keeps its original due date.
	RestartDeadline bool `yaml:"restart_deadline"`
	// Approvers are teams whose members may approve any exception, beside
	// each finding's Accountable person ("security").
	Approvers []string `yaml:"approvers"`
}

// DefaultExceptionMax is the longest exception per severity by default.
var DefaultExceptionMax = map[onus.Severity]time.Duration{
	onus.Critical: 30 * 24 * time.Hour,
	onus.High:     90 * 24 * time.Hour,
	onus.Medium:   180 * 24 * time.Hour,
	onus.Low:      365 * 24 * time.Hour,
}

// ExceptionMax returns the longest exception allowed for a severity.
func (c *Config) ExceptionMax(sev onus.Severity) time.Duration {
	if d, ok := c.Exceptions.Max[string(sev)]; ok {
		return d.Duration
	}
	return DefaultExceptionMax[sev]
}

// ExceptionWarnBefore returns how long before expiry warnings go out.
func (c *Config) ExceptionWarnBefore() time.Duration {
	if c.Exceptions.WarnBefore != nil {
		return c.Exceptions.WarnBefore.Duration
	}
	return 10 * 24 * time.Hour
}

// TeamLink returns the name of the person → team link.
func (c *Config) TeamLink() string {
	if c.People.Team != "" {
		return c.People.Team
	}
	return "team"
}

// Source is a system of record.
type Source struct {
	Name        string            `yaml:"name"`
	Kind        string            `yaml:"kind"`
	From        *From             `yaml:"from"`
	Connector   string            `yaml:"connector"`
	Credentials map[string]string `yaml:"credentials"`
	// Options are a connector's settings (its URL, the resource to read);
	// "onus connectors" lists each connector's options.
	Options map[string]string `yaml:"options"`
	// Create is false for a source that may only add to entities other
	// sources know (a scanner that knows only IP addresses).
	Create *bool `yaml:"create"`
	Map    Map   `yaml:"map"`
	// Where is a CEL expression over each mapped record (record.FIELD,
	// record.id, record.name): only the records for which it is true are
	// kept ('record.onboarding_status == "Onboarded"').
	Where Expr `yaml:"where"`
	// Links name other entities this source's records point at.
	Links  map[string]LinkList `yaml:"links"`
	Health Health              `yaml:"health"`

	// Index is the source's position in onus.yaml; earlier sources win when
	// merged attributes disagree.
	Index int `yaml:"-"`
	// Line is where the source is declared.
	Line int `yaml:"-"`
}

// Creates reports whether the source may create entities.
func (s *Source) Creates() bool { return s.Create == nil || *s.Create }

// From says where a file source reads.
type From struct {
	File string `yaml:"file"`
	// Format is csv, json, ndjson or osquery; it is guessed from the file
	// extension when empty.
	Format string `yaml:"format"`
	// Records is the dotted path of the record array inside a JSON document
	// ("results", "resources", "data"); empty for a top-level array.
	Records string `yaml:"records"`
	// Query keeps only osquery results whose query name matches this glob
	// ("pack_*_apps").
	Query string `yaml:"query"`
	// Delimiter of a CSV file; "," by default.
	Delimiter string `yaml:"delimiter"`
	// Encoding of a CSV file that is not UTF-8: windows-1252, iso-8859-1,
	// iso-8859-15 or utf-16 (with a byte-order mark). Without it, a file
	// that is not valid UTF-8 fails the source.
	Encoding string `yaml:"encoding"`
	// MaxValueBytes is the longest value a record may hold, in bytes
	// (DefaultMaxValueBytes when 0); a record with a longer one is skipped.
	MaxValueBytes int `yaml:"max_value_bytes"`
}

// DefaultMaxValueBytes is the longest value a record may hold unless the
// source says otherwise: far above any name, version or list of factors,
// far below a field that has swallowed a file.
const DefaultMaxValueBytes = 64 << 10

// Encodings are the encodings a CSV file may declare besides UTF-8.
var Encodings = []string{"utf-8", "windows-1252", "iso-8859-1", "iso-8859-15", "utf-16"}

// Map says how a source's records become onus records.
type Map struct {
	// ID is the path of the record's id inside the source. Paths are dotted
	// ("general.udid"), or templates joining several ("{hostIdentifier}/{columns.name}").
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Seen is the path of when the source last saw the thing.
	Seen string `yaml:"seen"`
	// Keys are identity keys; a key may read several paths (two MACs).
	Keys map[string]Paths `yaml:"keys"`
	// Fields are attributes kept for controls; all other data is dropped.
	Fields map[string]*Field `yaml:"fields"`
}

// Paths is one path or a list of paths.
type Paths []string

// UnmarshalYAML accepts a string or a list of strings.
func (p *Paths) UnmarshalYAML(unmarshal func(any) error) error {
	var one string
	if err := unmarshal(&one); err == nil {
		*p = Paths{one}
		return nil
	}
	var many []string
	if err := unmarshal(&many); err != nil {
		return err
	}
	*p = many
	return nil
}

// Field is a mapped attribute.
type Field struct {
	Path string `yaml:"path"`
	// Type is auto (as decoded), string, int, number, bool, time, list or object.
	Type     string `yaml:"type"`
	Required bool   `yaml:"required"`
	// Format is a Go time layout for time fields in unusual formats.
	Format string `yaml:"format"`
	// Keep lists the keys kept from each object of a list or object field
	// (factorType and status of each MFA factor); all are kept when empty.
	Keep []string `yaml:"keep"`
}

// UnmarshalYAML accepts a bare path or a full field definition.
func (f *Field) UnmarshalYAML(unmarshal func(any) error) error {
	var path string
	if err := unmarshal(&path); err == nil {
		*f = Field{Path: path}
		return nil
	}
	type plain Field
	return unmarshal((*plain)(f))
}

// Link says how a record points at another entity.
type Link struct {
	// To is the target entity kind.
	To string `yaml:"to"`
	// By is the target's identity key.
	By string `yaml:"by"`
	// Path is where the record holds the key's value.
	Path string `yaml:"path"`
	// Create makes a minimal target entity when none exists (teams named by
	// an HR department column).
	Create bool `yaml:"create"`
}

// LinkList is one link or several tried in order: the first that resolves
// to an entity wins (owner by e-mail, else by username).
type LinkList []Link

// UnmarshalYAML accepts one link or a list of links.
func (l *LinkList) UnmarshalYAML(unmarshal func(any) error) error {
	var many []Link
	if err := unmarshal(&many); err == nil {
		*l = many
		return nil
	}
	var one Link
	if err := unmarshal(&one); err != nil {
		return err
	}
	*l = LinkList{one}
	return nil
}

// Duration is a deadline such as "7d" or "36h".
type Duration struct{ time.Duration }

// UnmarshalYAML parses days and weeks as well as Go durations. Its error
// names the line and column of the value.
func (d *Duration) UnmarshalYAML(node ast.Node) error {
	s := strings.TrimSpace(node.String())
	if sn, ok := node.(*ast.StringNode); ok {
		s = sn.Value
	}
	v, err := onus.ParseDuration(s)
	if err != nil {
		return nodeError(node, "%v", err)
	}
	d.Duration = v
	return nil
}

// Control is an expectation over entities.
type Control struct {
	// File is the file the control was read from.
	File string `yaml:"-"`
	// Line is where the control starts in File.
	Line int `yaml:"-"`

	ID       string `yaml:"id"`
	Title    string `yaml:"title"`
	Activity string `yaml:"activity"`
	Severity string `yaml:"severity"`
	// Kind restricts the control to entities of one kind. It is optional:
	// a scope of the form `entity.kind == "device" && …` says the same.
	Kind  string `yaml:"kind"`
	Scope Expr   `yaml:"scope"`
	Check Expr   `yaml:"check"`
	// Owner returns the Responsible person: a person entity or an e-mail.
	Owner Expr `yaml:"owner"`
	// Due overrides the deadline: one duration, or one per severity.
	Due Due `yaml:"due"`
	// Why says why the control matters, in the words of the people it asks
	// to act.
	Why string `yaml:"why"`
	// Fix is a text/template of the steps to fix a failing entity.
	Fix      string   `yaml:"fix"`
	Tags     []string `yaml:"tags"`
	Disabled bool     `yaml:"disabled"`
}

// Due is a deadline override: a single duration for every severity, or a
// map from severity to duration.
type Due struct {
	All   *Duration
	BySev map[string]Duration
}

// UnmarshalYAML accepts "14d" or {high: 7d, medium: 30d}.
func (d *Due) UnmarshalYAML(unmarshal func(any) error) error {
	var one Duration
	if err := unmarshal(&one); err == nil {
		d.All = &one
		return nil
	}
	m := map[string]Duration{}
	if err := unmarshal(&m); err != nil {
		return err
	}
	d.BySev = m
	return nil
}

// Expr is a CEL expression with the position of its first character in
// its file, so that compile errors point at the right line.
type Expr struct {
	Src  string
	Line int
	Col  int
}

// IsZero reports whether no expression was given.
func (e Expr) IsZero() bool { return e.Src == "" }

// RACI is the responsibility matrix.
type RACI struct {
	File       string           `yaml:"-"`
	Version    int              `yaml:"version"`
	Options    RACIOptions      `yaml:"options"`
	Teams      map[string]*Team `yaml:"teams"`
	Activities []*Activity      `yaml:"activities"`
}

// RACIOptions tune how the matrix is read and checked.
type RACIOptions struct {
	// AccountableIsResponsible treats an activity's A as its R when it has
	// no R. Off by default: a matrix should say who does the work.
	AccountableIsResponsible bool `yaml:"accountable_is_responsible"`
	// WarnAccountableShare warns when one person is Accountable for more
	// than this share of the activities (0.5 by default).
	WarnAccountableShare float64 `yaml:"warn_accountable_share"`
	// WarnConsulted and WarnInformed warn when an activity consults or
	// informs more roles than this (5 and 10 by default).
	WarnConsulted int `yaml:"warn_consulted"`
	WarnInformed  int `yaml:"warn_informed"`
}

// Team is a named group of people with a lead.
type Team struct {
	Name    string   `yaml:"name"`
	Lead    string   `yaml:"lead"`
	Members []string `yaml:"members"`
	// Department matches people whose HR team link has this name.
	Department string `yaml:"department"`
	Line       int    `yaml:"-"`
}

// Activity is a row of the matrix.
type Activity struct {
	ID          string   `yaml:"id"`
	Title       string   `yaml:"title"`
	Description string   `yaml:"description"`
	Policy      string   `yaml:"policy"`
	R           []string `yaml:"R"`
	A           []string `yaml:"A"`
	C           []string `yaml:"C"`
	I           []string `yaml:"I"`
	Line        int      `yaml:"-"`
}

// Activity returns the matrix row with the given id, or nil.
func (r *RACI) Activity(id string) *Activity {
	if r == nil {
		return nil
	}
	for _, a := range r.Activities {
		if a.ID == id {
			return a
		}
	}
	return nil
}

// Source returns the source with the given name, or nil.
func (c *Config) Source(name string) *Source {
	for _, s := range c.Sources {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Control returns the control with the given id, or nil.
func (c *Config) Control(id string) *Control {
	for _, ctl := range c.Controls {
		if ctl.ID == id {
			return ctl
		}
	}
	return nil
}

// Defaults.
const (
	DefaultMaxShrink     = 0.2
	DefaultMaxBadRecords = 0.05
	DefaultChainLimit    = 3
)

// DefaultDeadlines are used for severities onus.yaml does not set.
var DefaultDeadlines = map[onus.Severity]time.Duration{
	onus.Critical: 2 * 24 * time.Hour,
	onus.High:     7 * 24 * time.Hour,
	onus.Medium:   30 * 24 * time.Hour,
	onus.Low:      90 * 24 * time.Hour,
}

// MaxShrink returns the shrink threshold for a source.
func (c *Config) MaxShrink(s *Source) float64 {
	switch {
	case s != nil && s.Health.MaxShrink != nil:
		return *s.Health.MaxShrink
	case c.Health.MaxShrink != nil:
		return *c.Health.MaxShrink
	}
	return DefaultMaxShrink
}

// MaxBadRecords returns the malformed-record threshold for a source.
func (c *Config) MaxBadRecords(s *Source) float64 {
	switch {
	case s != nil && s.Health.MaxBadRecords != nil:
		return *s.Health.MaxBadRecords
	case c.Health.MaxBadRecords != nil:
		return *c.Health.MaxBadRecords
	}
	return DefaultMaxBadRecords
}

// Deadline returns the time allowed to fix a finding of a control.
func (c *Config) Deadline(ctl *Control) time.Duration {
	sev := ctl.Severity
	if ctl.Due.All != nil {
		return ctl.Due.All.Duration
	}
	if d, ok := ctl.Due.BySev[sev]; ok {
		return d.Duration
	}
	if d, ok := c.Deadlines[sev]; ok {
		return d.Duration
	}
	return DefaultDeadlines[onus.Severity(sev)]
}

// PersonKind returns the entity kind of people.
func (c *Config) PersonKind() string {
	if c.People.Kind != "" {
		return c.People.Kind
	}
	return "person"
}

// ManagerLink returns the name of the person → manager link.
func (c *Config) ManagerLink() string {
	if c.People.Manager != "" {
		return c.People.Manager
	}
	return "manager"
}
