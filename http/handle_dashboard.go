package http

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/onus-sec/onus/store"
)

// bar is one bar of an SVG chart, in chart units.
type bar struct {
	X, Y, W, H int
	Class      string
	Label      string
	Title      string
}

// chart is an SVG chart computed here, so the page needs no script.
type chart struct {
	Width, Height int
	Bars          []bar
	Line          string // points of a polyline
	Labels        []bar
}

type dashboardPage struct {
	*store.Dashboard
	Weekly   chart `json:"-"`
	Flow     chart `json:"-"`
	Teams    chart `json:"-"`
	Controls chart `json:"-"`
}

// handleDashboard shows open, overdue and fixed findings per week, per
// team and per control, and the time to fix, as SVG charts.
func (s *Server) handleDashboard(w http.ResponseWriter, r *http.Request) {
	d, err := s.Authz.Dashboard(r.Context(), 12)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if isAPI(r) {
		writeJSON(w, http.StatusOK, d)
		return
	}
	p := dashboardPage{Dashboard: d, Weekly: weeklyChart(d.Weeks), Flow: flowChart(d.Weeks),
		Teams: hbars(d.ByTeam, 10), Controls: hbars(d.ByControl, 12)}
	s.render(w, r, http.StatusOK, "dashboard", "Dashboard", "dashboard", p)
}

func weeklyChart(weeks []store.Week) chart {
	c := chart{Width: 720, Height: 220}
	top := 1
	for _, wk := range weeks {
		top = max(top, wk.Open)
	}
	n := max(len(weeks), 1)
	bw := (c.Width - 40) / n
	pts := ""
	for i, wk := range weeks {
		x := 40 + i*bw
		h := wk.Open * 180 / top
		oh := wk.Overdue * 180 / top
		c.Bars = append(c.Bars, bar{X: x + 4, Y: 190 - h, W: bw - 8, H: h, Class: "open", Title: fmt.Sprintf("week of %s: %d open", wk.Start.Format("2 Jan"), wk.Open)})
		c.Bars = append(c.Bars, bar{X: x + 4, Y: 190 - oh, W: bw - 8, H: oh, Class: "overdue", Title: fmt.Sprintf("%d overdue", wk.Overdue)})
		c.Labels = append(c.Labels, bar{X: x + bw/2, Y: 208, Label: wk.Start.Format("2 Jan")})
		pts += fmt.Sprintf("%d,%d ", x+bw/2, 190-oh)
	}
	c.Line = pts
	c.Labels = append(c.Labels, bar{X: 4, Y: 16, Label: fmt.Sprint(top)})
	return c
}

func flowChart(weeks []store.Week) chart {
	c := chart{Width: 720, Height: 220}
	top := 1
	for _, wk := range weeks {
		top = max(top, wk.Opened, wk.Fixed)
	}
	n := max(len(weeks), 1)
	bw := (c.Width - 40) / n
	for i, wk := range weeks {
		x := 40 + i*bw
		h1, h2 := wk.Opened*180/top, wk.Fixed*180/top
		c.Bars = append(c.Bars, bar{X: x + 4, Y: 190 - h1, W: bw/2 - 4, H: h1, Class: "opened", Title: fmt.Sprintf("%d opened", wk.Opened)})
		c.Bars = append(c.Bars, bar{X: x + bw/2, Y: 190 - h2, W: bw/2 - 4, H: h2, Class: "fixed", Title: fmt.Sprintf("%d fixed, median %.0f h to fix", wk.Fixed, wk.FixHours)})
		c.Labels = append(c.Labels, bar{X: x + bw/2, Y: 208, Label: wk.Start.Format("2 Jan")})
	}
	c.Labels = append(c.Labels, bar{X: 4, Y: 16, Label: fmt.Sprint(top)})
	return c
}

// hbars draws open and overdue per key, the largest first.
func hbars(counts []store.Count, limit int) chart {
	type row struct {
		key           string
		open, overdue int
	}
	by := map[string]*row{}
	var rows []*row
	for _, c := range counts {
		r := by[c.Key]
		if r == nil {
			r = &row{key: c.Key}
			by[c.Key] = r
			rows = append(rows, r)
		}
		if c.Key2 == "overdue" {
			r.overdue += c.Count
		}
		r.open += c.Count
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].open > rows[j].open })
	if len(rows) > limit {
		rows = rows[:limit]
	}
	c := chart{Width: 720, Height: 24*len(rows) + 10}
	top := 1
	for _, r := range rows {
		top = max(top, r.open)
	}
	for i, r := range rows {
		y := 5 + i*24
		name := r.key
		if name == "" {
			name = "(no team)"
		}
		c.Labels = append(c.Labels, bar{X: 0, Y: y + 15, Label: name})
		w := r.open * 340 / top
		ow := r.overdue * 340 / top
		c.Bars = append(c.Bars, bar{X: 240, Y: y, W: w, H: 18, Class: "open", Title: fmt.Sprintf("%s: %d open", name, r.open)})
		c.Bars = append(c.Bars, bar{X: 240, Y: y, W: ow, H: 18, Class: "overdue", Title: fmt.Sprintf("%d overdue", r.overdue)})
		c.Labels = append(c.Labels, bar{X: 240 + w + 6, Y: y + 15, Label: fmt.Sprintf("%d (%d overdue)", r.open, r.overdue)})
	}
	return c
}
