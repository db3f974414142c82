package raci

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
)

// Columns of a matrix spreadsheet that are not roles.
var infoColumns = []string{"activity", "title", "description", "policy"}

func isInfo(h string) bool {
	for _, c := range infoColumns {
		if strings.EqualFold(strings.TrimSpace(h), c) {
			return true
		}
	}
	return false
}

// RoleOrder returns every role of the matrix: the columns of its
// spreadsheet. Relative roles come first, then the others in order of
// first use. A spreadsheet cannot say in which order several roles holding
// one letter are tried; reading it back takes the column order, so a list
// such as R: [manager, it-ops] keeps its order.
func RoleOrder(r *config.RACI) []string {
	var out []string
	seen := map[string]bool{}
	for _, rel := range []string{AssetOwner, Manager, TeamLead} {
		for _, a := range r.Activities {
			if Letters(a, rel) != "" && !seen[rel] {
				seen[rel] = true
				out = append(out, rel)
			}
		}
	}
	for _, a := range r.Activities {
		for _, role := range Roles(a) {
			if !seen[role] {
				seen[role] = true
				out = append(out, role)
			}
		}
	}
	return out
}

// WriteCSV writes the matrix as a spreadsheet: one row per activity, one
// column per role, cells R, A, C, I or combinations such as A/R.
func WriteCSV(w io.Writer, r *config.RACI) error {
	roles := RoleOrder(r)
	cw := csv.NewWriter(w)
	// Every cell is neutralised against formula injection: a title is
	// text, never a formula (ReadCSV undoes it).
	safe := func(row []string) []string {
		for i, c := range row {
			row[i] = onus.SafeCell(c)
		}
		return row
	}
	cw.Write(safe(append([]string{"activity", "title", "description", "policy"}, roles...)))
	for _, a := range r.Activities {
		row := []string{a.ID, a.Title, a.Description, a.Policy}
		for _, role := range roles {
			row = append(row, strings.Join(strings.Split(Letters(a, role), ""), "/"))
		}
		cw.Write(safe(row))
	}
	cw.Flush()
	return cw.Error()
}

// ReadCSV reads a matrix spreadsheet. Errors name the line and column.
func ReadCSV(name string, rd io.Reader) (*config.RACI, error) {
	cr := csv.NewReader(rd)
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, onus.Errorf(onus.EINVALID, "%s: %v", name, err)
	}
	for _, row := range rows {
		for i, c := range row {
			row[i] = onus.UnsafeCell(c)
		}
	}
	if len(rows) == 0 {
		return nil, onus.Errorf(onus.EINVALID, "%s: the file is empty; it needs a header row with activity and one column per role", name)
	}
	header := rows[0]
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	col := map[string]int{}
	for i, h := range header {
		if isInfo(h) {
			col[strings.ToLower(strings.TrimSpace(h))] = i
		}
	}
	idCol, ok := col["activity"]
	if !ok {
		return nil, onus.Errorf(onus.EINVALID, "%s:1: no activity column (columns: %s)", name, strings.Join(header, ", "))
	}
	get := func(row []string, c string) string {
		if i, ok := col[c]; ok && i < len(row) {
			return strings.TrimSpace(row[i])
		}
		return ""
	}
	out := &config.RACI{Version: config.Version}
	seen := map[string]int{}
	for n, row := range rows[1:] {
		line := n + 2
		id := ""
		if idCol < len(row) {
			id = strings.TrimSpace(row[idCol])
		}
		if id == "" {
			if strings.TrimSpace(strings.Join(row, "")) == "" {
				continue
			}
			return nil, onus.Errorf(onus.EINVALID, "%s:%d: the row has no activity id", name, line)
		}
		if prev, dup := seen[id]; dup {
			return nil, onus.Errorf(onus.EINVALID, "%s:%d: activity %s is also on line %d", name, line, id, prev)
		}
		seen[id] = line
		a := &config.Activity{ID: id, Title: get(row, "title"), Description: get(row, "description"), Policy: get(row, "policy")}
		for i, h := range header {
			if isInfo(h) || i >= len(row) {
				continue
			}
			role := strings.TrimSpace(h)
			cell := strings.ToUpper(strings.TrimSpace(row[i]))
			if cell == "" {
				continue
			}
			if role == "" {
				return nil, onus.Errorf(onus.EINVALID, "%s:1:%d: a column with letters has no role name", name, i+1)
			}
			letters := strings.NewReplacer("/", "", ",", "", "+", "", " ", "").Replace(cell)
			for _, l := range letters {
				switch l {
				case 'R':
					a.R = append(a.R, role)
				case 'A':
					a.A = append(a.A, role)
				case 'C':
					a.C = append(a.C, role)
				case 'I':
					a.I = append(a.I, role)
				default:
					return nil, onus.Errorf(onus.EINVALID, "%s:%d:%d: %q is not R, A, C or I (role %s, activity %s)", name, line, i+1, cell, role, id)
				}
			}
		}
		out.Activities = append(out.Activities, a)
	}
	return out, nil
}

// WriteYAML writes a matrix as raci.yaml: the teams of base (if any) and
// the activities of r.
func WriteYAML(w io.Writer, r *config.RACI, base *config.RACI) error {
	q := strconv.Quote
	var b strings.Builder
	b.WriteString("# Who is Responsible, Accountable, Consulted and Informed for each\n# security activity. Roles: a team below, an HR department, an e-mail,\n# or asset-owner, manager, team-lead.\nversion: 1\n")
	if base != nil && len(base.Teams) > 0 {
		b.WriteString("\nteams:\n")
		ids := make([]string, 0, len(base.Teams))
		for id := range base.Teams {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			t := base.Teams[id]
			fmt.Fprintf(&b, "  %s:\n", id)
			if t.Name != "" {
				fmt.Fprintf(&b, "    name: %s\n", q(t.Name))
			}
			if t.Lead != "" {
				fmt.Fprintf(&b, "    lead: %s\n", t.Lead)
			}
			if t.Department != "" {
				fmt.Fprintf(&b, "    department: %s\n", q(t.Department))
			}
			if len(t.Members) > 0 {
				fmt.Fprintf(&b, "    members: [%s]\n", strings.Join(t.Members, ", "))
			}
		}
	}
	b.WriteString("\nactivities:\n")
	list := func(k string, roles []string) {
		if len(roles) > 0 {
			fmt.Fprintf(&b, "    %s: [%s]\n", k, strings.Join(roles, ", "))
		}
	}
	for _, a := range r.Activities {
		fmt.Fprintf(&b, "  - id: %s\n", a.ID)
		if a.Title != "" {
			fmt.Fprintf(&b, "    title: %s\n", q(a.Title))
		}
		if a.Description != "" {
			fmt.Fprintf(&b, "    description: %s\n", q(a.Description))
		}
		if a.Policy != "" {
			fmt.Fprintf(&b, "    policy: %s\n", q(a.Policy))
		}
		list("R", a.R)
		list("A", a.A)
		list("C", a.C)
		list("I", a.I)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
