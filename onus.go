// Package onus holds the domain types of the onus security accountability
// engine: records read from sources, findings and their events,
// exceptions and decisions, outbox messages, the people directory,
// severities and the application error type; and the services that keep
// them (FindingService, ExceptionService, OutboxService,
// DirectoryService), which store/ implements and the workflows depend
// on. A missing thing is an Error with the code ENOTFOUND, a refused
// change one with ECONFLICT. It has no I/O; the subpackages are adapters
// around it, in the order data flows through onus:
//
//	source/    read systems of record into records (CSV, JSON, NDJSON, osquery)
//	identity/  normalise identity keys (serials, MACs, hostnames, emails)
//	inventory/ correlate records into entities and link them
//	policy/    the CEL language controls are written in
//	evaluate/  evaluate controls over the inventory (pure)
//	ledger/    every change of a finding's state: the diff of results with
//	           the last findings, and what exception decisions do (pure)
//	store/     the SQL store (SQLite by default)
//	monitor/   the sync and evaluation loop, with I/O at its edges
//	report/    summaries and listings for people and machines
package onus

import (
	"strings"
	"time"
)

// Record is one item read from a source, already mapped: its identity keys
// are normalised and only the mapped attributes are kept. Attrs and Links
// are aligned with the Schema of the snapshot the record belongs to.
type Record struct {
	// ID identifies the record inside its source (a UDID, an employee id).
	ID string
	// Name is a human label (a hostname, a full name); it may be empty.
	Name string
	// Loc is where the record was read: the line of a CSV or NDJSON file,
	// or the 1-based index in a JSON array.
	Loc int
	// Seen is when the source last saw the thing (unix seconds, 0 if the
	// source does not say). It picks the freshest of duplicate records.
	Seen int64
	// Keys are the normalised identity keys used for correlation.
	Keys []Key
	// Links are the raw link values, one per Schema.Links entry ("" when absent).
	Links []string
	// Attrs are the attribute values, one per Schema.Fields entry (nil when absent).
	// Values are string, int64, float64, bool, time.Time, []any or map[string]any.
	Attrs []any
	// Skipped marks a record that could not be read (a value of the wrong
	// type, damaged text): it keeps the id and the keys that could be read,
	// so that it still joins its entity, but no attribute or link. A result
	// that reads its source for that entity is unknown, never a pass or a
	// failure: bad data opens, resolves and removes nothing by itself.
	Skipped bool
}

// Key is one normalised identity key of a record.
type Key struct {
	Name  string
	Value string
}

// IgnoredKeyPrefix starts the name of a key a record carries only to
// explain itself: a value that was read but is not a usable identity (a
// factory host name, a placeholder serial). Its Value is the raw value, a
// tab, and why it was ignored. Such a key never correlates or links.
const IgnoredKeyPrefix = "!"

// Ignored returns, for a key kept to explain why a value was ignored, the
// key's name, the raw value and the reason.
func (k Key) Ignored() (name, raw, why string, ok bool) {
	if len(k.Name) == 0 || k.Name[0] != IgnoredKeyPrefix[0] {
		return "", "", "", false
	}
	raw, why, _ = strings.Cut(k.Value, "\t")
	return k.Name[1:], raw, why, true
}

// Schema describes the records of one snapshot: which attributes and links
// each record carries, in order.
type Schema struct {
	Fields []string
	Links  []LinkSpec
	// IDSep, when set, is the text between the two parts of a composite
	// id ("/" in "{decorations.host_uuid}/{columns.path}"): the records
	// keep such ids as their two parts (Records.SplitIDs).
	IDSep string `json:",omitempty"`
}

// FieldIndex returns the position of the named field, or -1.
func (s *Schema) FieldIndex(name string) int {
	for i, f := range s.Fields {
		if f == name {
			return i
		}
	}
	return -1
}

// LinkSpec says how a record points at another entity: the link called
// Name points at the entity of kind To whose key Key has the record's value.
type LinkSpec struct {
	Name string
	To   string
	Key  string
	// Create makes a minimal target entity when none has that key (teams
	// named by an HR department column).
	Create bool
}

// Snapshot is the complete set of records one source returned at one sync.
type Snapshot struct {
	Source   string
	Kind     string
	SyncedAt time.Time
	Schema   Schema
	Records  *Records
}
