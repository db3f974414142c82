package raci

import (
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/onus-sec/onus/internal/columns"
)

// Formats the matrix renders in.
var Formats = []string{"text", "markdown", "csv", "html"}

// gaps returns, per activity, the problems to highlight next to it.
func gaps(ps []Problem) map[string][]string {
	out := map[string][]string{}
	for _, p := range ps {
		if p.Activity != "" {
			mark := "!"
			if p.Severity == Warning {
				mark = "?"
			}
			out[p.Activity] = append(out[p.Activity], mark+" "+p.Code)
		}
	}
	return out
}

// Render writes the matrix in a format, with each activity's problems
// beside it.
func (m *Matrix) Render(w io.Writer, format string, problems []Problem) error {
	g := gaps(problems)
	roles := RoleOrder(m.RACI)
	switch format {
	case "csv":
		return WriteCSV(w, m.RACI)
	case "markdown":
		fmt.Fprintf(w, "| activity | %s | gaps |\n|---|%s---|\n", strings.Join(roles, " | "), strings.Repeat("---|", len(roles)))
		for _, a := range m.Activities {
			cells := make([]string, len(roles))
			for i, r := range roles {
				cells[i] = strings.Join(strings.Split(Letters(a, r), ""), "/")
			}
			title := a.ID
			if a.Title != "" {
				title = "**" + a.ID + "** " + a.Title
			}
			fmt.Fprintf(w, "| %s | %s | %s |\n", title, strings.Join(cells, " | "), strings.Join(g[a.ID], ", "))
		}
		return nil
	case "html":
		type row struct {
			ID, Title, Policy string
			Cells             []string
			Gaps              []string
		}
		var rows []row
		for _, a := range m.Activities {
			r := row{ID: a.ID, Title: a.Title, Policy: a.Policy, Gaps: g[a.ID]}
			for _, role := range roles {
				r.Cells = append(r.Cells, strings.Join(strings.Split(Letters(a, role), ""), "/"))
			}
			rows = append(rows, r)
		}
		return htmlTmpl.Execute(w, map[string]any{"Roles": roles, "Rows": rows})
	case "text", "":
		tw := columns.NewWriter(w)
		fmt.Fprintf(tw, "ACTIVITY\t%s\tGAPS\t\n", strings.ToUpper(strings.Join(roles, "\t")))
		for _, a := range m.Activities {
			cells := make([]string, len(roles))
			for i, r := range roles {
				cells[i] = strings.Join(strings.Split(Letters(a, r), ""), "/")
				if cells[i] == "" {
					cells[i] = "·"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t\n", a.ID, strings.Join(cells, "\t"), strings.Join(g[a.ID], ", "))
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}

var htmlTmpl = template.Must(template.New("raci").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Responsibility matrix</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem}
table{border-collapse:collapse}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:center}
th.activity,td.activity{text-align:left}
tr.gap td.activity{background:#fde8e8}
td.gaps{color:#b00020;text-align:left}
</style></head><body>
<h1>Responsibility matrix</h1>
<table>
<thead><tr><th class="activity">Activity</th>{{range .Roles}}<th>{{.}}</th>{{end}}<th>Gaps</th></tr></thead>
<tbody>
{{range .Rows}}<tr{{if .Gaps}} class="gap"{{end}}><td class="activity"><strong>{{.ID}}</strong>{{with .Title}} {{.}}{{end}}{{with .Policy}} (<a href="{{.}}">policy</a>){{end}}</td>{{range .Cells}}<td>{{.}}</td>{{end}}<td class="gaps">{{range $i, $g := .Gaps}}{{if $i}}, {{end}}{{$g}}{{end}}</td></tr>
{{end}}</tbody></table>
</body></html>
`))
