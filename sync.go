package onus

import (
	"fmt"
	"strings"
	"time"
)

// RecordError is a record a source could not read, with where it is.
type RecordError struct {
	File string `json:"file"`
	// Line is the line in the file, when known.
	Line int `json:"line,omitempty"`
	// Index is the 1-based position of the record in a JSON array.
	Index   int    `json:"index,omitempty"`
	ID      string `json:"id,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	// Loc is where the mapping found the record; readers turn it into Line
	// or Index.
	Loc int `json:"-"`
}

func (p *RecordError) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	if p.Index > 0 {
		fmt.Fprintf(&b, ": record %d", p.Index)
	}
	if p.ID != "" {
		fmt.Fprintf(&b, " (id %s)", p.ID)
	}
	b.WriteString(": ")
	if p.Field != "" && !strings.HasPrefix(p.Message, p.Field) {
		b.WriteString("field ")
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// SyncStatus is how a sync ended.
type SyncStatus string

// Sync statuses. Only an ok sync replaces the snapshot in force.
const (
	SyncOK         SyncStatus = "ok"
	SyncFailed     SyncStatus = "failed"     // the source could not be read
	SyncSuspicious SyncStatus = "suspicious" // it was read, but looks wrong (far fewer records)
)

// Sync is one attempt to read a source.
type Sync struct {
	ID       int64          `json:"id"`
	Run      int64          `json:"run"`
	Source   string         `json:"source"`
	Started  time.Time      `json:"started"`
	Finished time.Time      `json:"finished"`
	Status   SyncStatus     `json:"status"`
	Records  int            `json:"records"`
	Bad      int            `json:"bad"`
	Bytes    int64          `json:"bytes"`
	Error    string         `json:"error,omitempty"`
	Problems []*RecordError `json:"problems,omitempty"`
	Warnings []string       `json:"warnings,omitempty"`
	// Unchanged is true when the source's files had the same content as
	// when its snapshot in force was read: they were not read again, and
	// the sync points at that snapshot (its records, skipped records and
	// warnings are that read's).
	Unchanged bool `json:"unchanged,omitempty"`
	// Fingerprint identifies what a good sync read (the source's
	// configuration and its files' contents), so that the next sync can
	// tell it is unchanged; empty when it cannot tell (a connector).
	Fingerprint string `json:"-"`
	// Snapshot is the stored snapshot the sync points at (an unchanged
	// sync points at the one read before); 0 for none.
	Snapshot int64 `json:"-"`
}

// SourceState is a source's health: its last sync and the snapshot in force.
type SourceState struct {
	Source string `json:"source"`
	// Last is the most recent sync.
	Last *Sync `json:"last,omitempty"`
	// Good is the sync whose snapshot is in force, nil when there is none.
	Good    *Sync `json:"good,omitempty"`
	Healthy bool  `json:"healthy"`
	// Reason says why the source is unhealthy.
	Reason string `json:"reason,omitempty"`
}
