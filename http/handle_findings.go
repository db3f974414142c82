package http

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/authz"
	"github.com/onus-sec/onus/store"
)

const pageSize = 50

type findingsPage struct {
	Items []authz.Item `json:"findings"`
	// Total is how many match, when it is known without counting every
	// match of a broad filter (see store.Page).
	Total *int `json:"total,omitempty"`
	// Next is the after= value of the next page, empty on the last one;
	// After that of this page.
	Next     string            `json:"next,omitempty"`
	After    string            `json:"after,omitempty"`
	Limit    int               `json:"limit"`
	Controls []string          `json:"-"`
	Sources  []string          `json:"-"`
	States   []onus.State      `json:"-"`
	Sev      []onus.Severity   `json:"-"`
	Filter   map[string]string `json:"filter"`
}

// findingQuery reads the filters of the findings list.
func (s *Server) findingQuery(r *http.Request) (store.FindingQuery, map[string]string, error) {
	q := r.URL.Query()
	f := map[string]string{}
	for _, k := range []string{"control", "severity", "state", "owner", "team", "source", "overdue", "q"} {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			f[k] = v
		}
	}
	fq := store.FindingQuery{Control: f["control"], Owner: f["owner"], Team: f["team"], Source: f["source"], Text: f["q"], Limit: pageSize}
	if v := f["severity"]; v != "" {
		sev, err := onus.ParseSeverity(v)
		if err != nil {
			return fq, f, onus.Errorf(onus.EINVALID, "%v", err)
		}
		fq.Severity = string(sev)
	}
	switch st := f["state"]; st {
	case "":
		fq.States = []onus.State{onus.StateOpen}
	case "all":
	default:
		state, err := onus.ParseState(st)
		if err != nil {
			return fq, f, err
		}
		fq.States = []onus.State{state}
	}
	if f["overdue"] != "" {
		fq.OverdueAt = s.Authz.Now()
	}
	if q.Get("offset") != "" {
		return fq, f, onus.Errorf(onus.EINVALID, "offset is not supported: pages follow each other with after=, the next value of the previous page")
	}
	if v := q.Get("after"); v != "" {
		c, err := store.ParseCursor(v)
		if err != nil {
			return fq, f, err
		}
		fq.After = c
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 1000 {
			return fq, f, onus.Errorf(onus.EINVALID, "limit must be between 1 and 1000")
		}
		fq.Limit = n
	}
	return fq, f, nil
}

// handleFindings lists the findings I may see, filtered, a page at a
// time; ?format=csv or json exports every match.
func (s *Server) handleFindings(w http.ResponseWriter, r *http.Request) {
	fq, filter, err := s.findingQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	format := r.URL.Query().Get("format")
	if format == "csv" || format == "json" {
		fq.Limit, fq.After = 200000, nil
	}
	items, page, err := s.Authz.Findings(r.Context(), fq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch format {
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="findings.csv"`)
		cw := csv.NewWriter(w)
		cw.Write([]string{"id", "severity", "control", "entity_kind", "entity", "entity_name", "responsible", "accountable", "state", "due", "overdue", "first_failed"})
		for _, it := range items {
			cw.Write([]string{fmt.Sprint(it.ID), string(it.Severity), it.Control, it.EntityKind, it.Entity, csvSafe(it.EntityName),
				it.Responsible.Email, it.Accountable.Email, string(it.State), it.Due.Format("2006-01-02T15:04:05Z"), fmt.Sprint(it.Overdue),
				it.FirstFailed.Format("2006-01-02T15:04:05Z")})
		}
		cw.Flush()
		return
	case "json":
		w.Header().Set("Content-Disposition", `attachment; filename="findings.json"`)
		writeJSON(w, http.StatusOK, items)
		return
	case "":
	default:
		s.fail(w, r, onus.Errorf(onus.EINVALID, "format must be csv or json"))
		return
	}
	d := findingsPage{Items: items, Limit: fq.Limit, Filter: filter,
		States: []onus.State{onus.StateOpen, onus.StateExempted, onus.StateResolved, onus.StateGone}, Sev: onus.Severities}
	if page.Counted {
		d.Total = &page.Total
	}
	if page.Next != nil {
		d.Next = page.Next.String()
	}
	if fq.After != nil {
		d.After = fq.After.String()
	}
	for _, c := range s.Config.Controls {
		d.Controls = append(d.Controls, c.ID)
	}
	for _, src := range s.Config.Sources {
		d.Sources = append(d.Sources, src.Name)
	}
	s.respond(w, r, "findings", "Findings", "findings", d)
}

// csvSafe keeps a spreadsheet from running a cell as a formula: names
// come from exports anyone could have written.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
