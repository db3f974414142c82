package config

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/onus-sec/onus"
)

var (
	identRE     = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	controlIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
)

// Reserved are the entity fields onus provides; mapped fields and links may
// not use these names.
var Reserved = map[string]bool{"id": true, "kind": true, "name": true, "keys": true, "sources": true}

// formats are the file formats a source can read, each with the file
// extensions that imply it. Readers register them (source registers its
// readers here as it registers itself), so validation never keeps a copy
// of the list.
var (
	formatsMu sync.RWMutex
	formats   = map[string][]string{}
)

// RegisterFormat makes a file format known to validation, with the
// extensions (".csv") that imply it.
func RegisterFormat(name string, exts ...string) {
	formatsMu.Lock()
	defer formatsMu.Unlock()
	formats[name] = exts
}

// Formats lists the registered file formats, sorted.
func Formats() []string {
	formatsMu.RLock()
	defer formatsMu.RUnlock()
	out := make([]string, 0, len(formats))
	for n := range formats {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// FieldTypes lists the types a mapped field can have.
var FieldTypes = []string{"auto", "string", "int", "number", "bool", "time", "list", "object"}

// FormatOf returns the format a source reads: the declared one, or the one
// its file extension implies.
func FormatOf(f *From) string {
	if f == nil {
		return ""
	}
	if f.Format != "" {
		return f.Format
	}
	ext := strings.ToLower(filepath.Ext(f.File))
	formatsMu.RLock()
	defer formatsMu.RUnlock()
	for name, exts := range formats {
		if contains(exts, ext) {
			return name
		}
	}
	return ""
}

// Validate checks the rules that span fields and files, and returns every
// problem it finds.
func (c *Config) Validate() Problems {
	v := &validator{cfg: c}
	v.main()
	v.serve()
	v.controls()
	v.raci()
	return v.probs
}

type validator struct {
	cfg   *Config
	probs Problems
}

func (v *validator) at(path string) int {
	if v.cfg.positions == nil {
		return 0
	}
	return v.cfg.positions.line(path)
}

func (v *validator) errorf(file string, line int, format string, args ...any) {
	v.probs = append(v.probs, &Problem{File: file, Line: line, Message: fmt.Sprintf(format, args...)})
}

// main checks onus.yaml, one named step per section.
func (v *validator) main() {
	c := v.cfg
	if c.Version != 0 && c.Version != Version {
		v.errorf(c.File, v.at("$.version"), "version must be %d", Version)
	}
	kinds := v.sources()
	v.correlate(kinds)
	v.limits()
	v.nudges()
	v.channels()
	v.schedule()
}

// sources checks each source, and returns the kinds they provide.
func (v *validator) sources() map[string]bool {
	c, f := v.cfg, v.cfg.File
	if len(c.Sources) == 0 {
		v.errorf(f, 1, "no sources: declare at least one under sources:")
	}
	kinds := map[string]bool{}
	for _, s := range c.Sources {
		kinds[s.Kind] = true
	}
	seen := map[string]int{}
	for i, s := range c.Sources {
		v.source(i, s, kinds, seen)
	}
	return kinds
}

// source checks one source; seen holds the names already declared, with
// their lines.
func (v *validator) source(i int, s *Source, kinds map[string]bool, seen map[string]int) {
	f := v.cfg.File
	p := fmt.Sprintf("$.sources[%d]", i)
	label := fmt.Sprintf("source %q", s.Name)
	if s.Name == "" {
		label = fmt.Sprintf("source #%d", i+1)
		v.errorf(f, s.Line, "%s: name is required", label)
	} else if !identRE.MatchString(s.Name) {
		v.errorf(f, v.at(p+".name"), "%s: name must be lower case letters, digits and _ (it is used as entity.sources.%s in controls)", label, s.Name)
	} else if prev, dup := seen[s.Name]; dup {
		v.errorf(f, v.at(p+".name"), "%s: declared twice (first at line %d)", label, prev)
	}
	seen[s.Name] = s.Line
	if s.Kind == "" {
		v.errorf(f, s.Line, "%s: kind is required (person, device, account, software, …)", label)
	} else if !identRE.MatchString(s.Kind) {
		v.errorf(f, v.at(p+".kind"), "%s: kind %q must be lower case letters, digits and _", label, s.Kind)
	}
	switch {
	case s.From == nil && s.Connector == "":
		v.errorf(f, s.Line, "%s: needs from: {file: …} or connector:", label)
	case s.From != nil && s.Connector != "":
		v.errorf(f, s.Line, "%s: has both from: and connector:; keep one", label)
	case s.From != nil:
		if s.From.File == "" {
			v.errorf(f, v.at(p+".from"), "%s: from.file is required", label)
		}
		if format := FormatOf(s.From); format == "" {
			if len(Formats()) == 0 {
				// A program that validates without linking the readers.
				v.errorf(f, v.at(p+".from"), "%s: no file format is registered: the program does not link github.com/onus-sec/onus/source", label)
			} else {
				v.errorf(f, v.at(p+".from"), "%s: cannot tell the format of %q; set from.format to one of %s", label, s.From.File, strings.Join(Formats(), ", "))
			}
		} else if !contains(Formats(), format) {
			v.errorf(f, v.at(p+".from.format"), "%s: unknown format %q (want one of %s)", label, format, strings.Join(Formats(), ", "))
		}
		if s.From.Records != "" && FormatOf(s.From) != "json" {
			v.errorf(f, v.at(p+".from.records"), "%s: from.records only applies to json files", label)
		}
		if s.From.Query != "" && FormatOf(s.From) != "osquery" {
			v.errorf(f, v.at(p+".from.query"), "%s: from.query only applies to osquery logs", label)
		}
		if d := s.From.Delimiter; d != "" && (len([]rune(d)) != 1 || FormatOf(s.From) != "csv") {
			v.errorf(f, v.at(p+".from.delimiter"), "%s: delimiter must be one character, for csv files", label)
		}
		if e := s.From.Encoding; e != "" && (!contains(Encodings, strings.ToLower(e)) || FormatOf(s.From) != "csv") {
			v.errorf(f, v.at(p+".from.encoding"), "%s: encoding %q: want one of %s, for csv files", label, e, strings.Join(Encodings, ", "))
		}
		if s.From.MaxValueBytes < 0 {
			v.errorf(f, v.at(p+".from.max_value_bytes"), "%s: max_value_bytes must be a positive number of bytes", label)
		}
	}
	if s.Connector == "" && (len(s.Options) > 0 || len(s.Credentials) > 0) {
		v.errorf(f, s.Line, "%s: options: and credentials: only apply to a source with connector:", label)
	}
	for k, cred := range s.Credentials {
		if !strings.HasPrefix(cred, "env:") && !strings.HasPrefix(cred, "file:") {
			v.errorf(f, v.at(p+".credentials."+k), "%s: credential %s must be env:NAME or file:PATH; onus never reads secrets written in the config", label, k)
		}
	}
	v.mapping(s, p, label, kinds)
	for _, h := range []*float64{s.Health.MaxShrink, s.Health.MaxBadRecords} {
		if h != nil && (*h < 0 || *h > 1) {
			v.errorf(f, v.at(p+".health"), "%s: health thresholds are fractions between 0 and 1", label)
		}
	}
}

// correlate checks the correlation keys of each kind.
func (v *validator) correlate(kinds map[string]bool) {
	c, f := v.cfg, v.cfg.File
	for kind, keys := range c.Correlate {
		if !kinds[kind] {
			v.errorf(f, v.at("$.correlate."+kind), "correlate: no source has kind %q", kind)
		}
		dup := map[string]bool{}
		for _, k := range keys {
			if dup[k] {
				v.errorf(f, v.at("$.correlate."+kind), "correlate.%s: key %q listed twice", kind, k)
			}
			dup[k] = true
		}
	}
}

// limits checks deadlines, health thresholds, ownership, exception
// limits and key types.
func (v *validator) limits() {
	c, f := v.cfg, v.cfg.File
	for sev := range c.Deadlines {
		if _, err := onus.ParseSeverity(sev); err != nil {
			v.errorf(f, v.at("$.deadlines."+sev), "deadlines: %v", err)
		}
	}
	for _, h := range []*float64{c.Health.MaxShrink, c.Health.MaxBadRecords} {
		if h != nil && (*h < 0 || *h > 1) {
			v.errorf(f, v.at("$.health"), "health thresholds are fractions between 0 and 1")
		}
	}
	if fb := c.Ownership.Fallback; fb != "" && !strings.Contains(fb, "@") {
		v.errorf(f, v.at("$.ownership.fallback"), "ownership.fallback must be an e-mail address")
	}
	for sev := range c.Exceptions.Max {
		if _, err := onus.ParseSeverity(sev); err != nil {
			v.errorf(f, v.at("$.exceptions.max."+sev), "exceptions.max: %v", err)
		}
	}
	if c.Ownership.ChainLimit < 0 {
		v.errorf(f, v.at("$.ownership.chain_limit"), "ownership.chain_limit cannot be negative")
	}
	for name, typ := range c.Identity.KeyTypes {
		if !isKeyType(typ) {
			v.errorf(f, v.at("$.identity.key_types."+name), "identity.key_types.%s: unknown key type %q", name, typ)
		}
	}
}

func (v *validator) nudges() {
	n, f := &v.cfg.Nudges, v.cfg.File
	for sev := range n.Schedule {
		if _, err := onus.ParseSeverity(sev); err != nil && sev != "default" {
			v.errorf(f, v.at("$.nudges.schedule."+sev), "nudges.schedule: %v (or default)", err)
		}
	}
	for _, d := range n.WorkingDays {
		if _, ok := Weekdays[strings.ToLower(d)]; !ok {
			v.errorf(f, v.at("$.nudges.working_days"), "nudges.working_days: %q is not a day (mon … sun)", d)
		}
	}
	if d := n.SummaryDay; d != "" {
		if _, ok := Weekdays[strings.ToLower(d)]; !ok {
			v.errorf(f, v.at("$.nudges.summary_day"), "nudges.summary_day: %q is not a day (mon … sun)", d)
		}
	}
	if n.WorkingHours != "" {
		if _, _, err := ParseHours(n.WorkingHours); err != nil {
			v.errorf(f, v.at("$.nudges.working_hours"), "nudges.working_hours: %v", err)
		}
	}
	if n.TimeZone != "" {
		if _, err := time.LoadLocation(n.TimeZone); err != nil {
			v.errorf(f, v.at("$.nudges.time_zone"), "nudges.time_zone: unknown time zone %q", n.TimeZone)
		}
	}
	v.defaultChannel()
}

// Weekdays maps day names to time.Weekday.
var Weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// ParseHours reads "09:00-18:00" into minutes after midnight.
func ParseHours(s string) (from, to int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not a range such as 09:00-18:00", s)
	}
	parse := func(x string) (int, error) {
		t, err := time.Parse("15:04", strings.TrimSpace(x))
		if err != nil {
			return 0, fmt.Errorf("%q is not a time of day such as 09:00", x)
		}
		return t.Hour()*60 + t.Minute(), nil
	}
	if from, err = parse(a); err != nil {
		return 0, 0, err
	}
	if to, err = parse(b); err != nil {
		return 0, 0, err
	}
	if to <= from {
		return 0, 0, fmt.Errorf("%q ends before it starts", s)
	}
	return from, to, nil
}

// keyTypes mirrors identity.Types; config does not import identity so that
// it stays a leaf package.
var keyTypes = []string{"email", "employee_id", "hostname", "ip", "mac", "name", "serial", "text", "username", "uuid"}

func isKeyType(t string) bool { return contains(keyTypes, t) }

func (v *validator) mapping(s *Source, p, label string, kinds map[string]bool) {
	f := v.cfg.File
	m := s.Map
	if m.ID == "" {
		v.errorf(f, v.at(p+".map"), "%s: map.id is required (the path of each record's id)", label)
	}
	for k, paths := range m.Keys {
		if !identRE.MatchString(k) {
			v.errorf(f, v.at(p+".map.keys"), "%s: key name %q must be lower case letters, digits and _", label, k)
		}
		if len(paths) == 0 {
			v.errorf(f, v.at(p+".map.keys."+k), "%s: key %s has no path", label, k)
		}
	}
	names := map[string]string{}
	for name, fd := range m.Fields {
		fp := p + ".map.fields." + name
		if !identRE.MatchString(name) {
			v.errorf(f, v.at(p+".map.fields"), "%s: field name %q must be lower case letters, digits and _ (it is used as entity.%s)", label, name, name)
		}
		if Reserved[name] {
			v.errorf(f, v.at(fp), "%s: field name %q is reserved (reserved: id, kind, name, keys, sources)", label, name)
		}
		if fd == nil || fd.Path == "" {
			v.errorf(f, v.at(fp), "%s: field %s has no path", label, name)
			continue
		}
		if fd.Type != "" && !contains(FieldTypes, fd.Type) {
			v.errorf(f, v.at(fp), "%s: field %s: unknown type %q (want one of %s)", label, name, fd.Type, strings.Join(FieldTypes, ", "))
		}
		if fd.Format != "" && fd.Type != "time" {
			v.errorf(f, v.at(fp), "%s: field %s: format only applies to type time", label, name)
		}
		if len(fd.Keep) > 0 && fd.Type != "list" && fd.Type != "object" {
			v.errorf(f, v.at(fp), "%s: field %s: keep only applies to types list and object", label, name)
		}
		names[name] = "field"
	}
	for name, links := range s.Links {
		lp := p + ".links." + name
		if !identRE.MatchString(name) || Reserved[name] {
			v.errorf(f, v.at(lp), "%s: link name %q must be lower case letters, digits and _ and not reserved", label, name)
		}
		if names[name] != "" {
			v.errorf(f, v.at(lp), "%s: %q is both a field and a link", label, name)
		}
		if len(links) == 0 {
			v.errorf(f, v.at(lp), "%s: link %s is empty", label, name)
		}
		for _, l := range links {
			if l.To == "" || l.By == "" || l.Path == "" {
				v.errorf(f, v.at(lp), "%s: link %s needs to:, by: and path:", label, name)
				continue
			}
			if !kinds[l.To] && !l.Create {
				v.errorf(f, v.at(lp), "%s: link %s points at kind %q, which no source provides (set create: true to make %s entities from the link)", label, name, l.To, l.To)
			}
		}
	}
}

func (v *validator) controls() {
	c := v.cfg
	kinds := map[string]bool{}
	for _, s := range c.Sources {
		kinds[s.Kind] = true
		for _, ls := range s.Links {
			for _, l := range ls {
				if l.Create {
					kinds[l.To] = true
				}
			}
		}
	}
	seen := map[string]*Control{}
	for _, ctl := range c.Controls {
		label := fmt.Sprintf("control %q", ctl.ID)
		switch {
		case ctl.ID == "":
			label = "control"
			v.errorf(ctl.File, ctl.Line, "control: id is required")
		case !controlIDRE.MatchString(ctl.ID):
			v.errorf(ctl.File, ctl.Line, "%s: id must be lower case letters, digits, '.', '_' and '-'", label)
		case seen[ctl.ID] != nil:
			prev := seen[ctl.ID]
			v.errorf(ctl.File, ctl.Line, "%s: declared twice (also at %s:%d)", label, prev.File, prev.Line)
		}
		seen[ctl.ID] = ctl
		if _, err := onus.ParseSeverity(ctl.Severity); err != nil {
			v.errorf(ctl.File, ctl.Line, "%s: %v", label, err)
		}
		if ctl.Check.IsZero() {
			v.errorf(ctl.File, ctl.Line, "%s: check is required (a CEL expression that is true when the entity is fine)", label)
		}
		if ctl.Kind != "" && !kinds[ctl.Kind] {
			v.errorf(ctl.File, ctl.Line, "%s: kind %q: no source provides it", label, ctl.Kind)
		}
		for sev := range ctl.Due.BySev {
			if _, err := onus.ParseSeverity(sev); err != nil {
				v.errorf(ctl.File, ctl.Line, "%s: due: %v", label, err)
			}
		}
		if ctl.Fix != "" {
			if _, err := template.New(ctl.ID).Option("missingkey=error").Parse(ctl.Fix); err != nil {
				v.errorf(ctl.File, ctl.Line, "%s: fix template: %v", label, err)
			}
		}
	}
}

func (v *validator) raci() {
	r := v.cfg.RACI
	if r == nil {
		return
	}
	seen := map[string]int{}
	for _, a := range r.Activities {
		if a.ID == "" {
			v.errorf(r.File, a.Line, "activity: id is required")
			continue
		}
		if prev, ok := seen[a.ID]; ok {
			v.errorf(r.File, a.Line, "activity %q: declared twice (first at line %d)", a.ID, prev)
		}
		seen[a.ID] = a.Line
	}
	ids := make([]string, 0, len(r.Teams))
	for id := range r.Teams {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		t := r.Teams[id]
		if t.Lead != "" && !strings.Contains(t.Lead, "@") {
			v.errorf(r.File, t.Line, "team %q: lead must be an e-mail address", id)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
