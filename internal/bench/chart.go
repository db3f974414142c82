package bench

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"math"
)

// series is one line of the growth chart: a phase of one run.
type series struct {
	run, phase, label, color string
	dash                     bool
}

var linearSeries = []series{
	{"first", "evaluate", "evaluate, first run", "#1f77b4", false},
	{"first", "persist", "persist, first run (empty store)", "#d62728", false},
	{"second", "evaluate", "evaluate, second run (1% changed)", "#1f77b4", true},
	{"second", "persist", "persist, second run (1% changed)", "#d62728", true},
	{"first", "correlate", "correlate, first run", "#7f7f7f", false},
}

func phaseOf(p *LinearPoint, run, phase string) *LinearPhase {
	for i := range p.Runs {
		if p.Runs[i].Name != run {
			continue
		}
		for j := range p.Runs[i].Phases {
			if p.Runs[i].Phases[j].Name == phase {
				return &p.Runs[i].Phases[j]
			}
		}
	}
	return nil
}

// LinearChart draws the growth measurement as an SVG: on the left the CPU
// time of each phase against the number of entities (both axes
// logarithmic, with a grey line of slope one: linear growth runs parallel
// to it); on the right the CPU time per entity (flat where growth is
// linear).
func LinearChart(res *LinearResult) []byte {
	const w, h, top, bottom, pw = 980, 500, 50, 100, 380
	lefts := [2]float64{70, 560}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	title := fmt.Sprintf("onus: correlate, evaluate and persist against entities (CPU time, %s, %d CPUs)", res.GoVersion, res.CPUs)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" text-anchor="middle">%s</text>`+"\n", w/2, html.EscapeString(title))
	if len(res.Points) == 0 {
		b.WriteString("</svg>\n")
		return b.Bytes()
	}
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax, umax := math.Inf(1), math.Inf(-1), 0.0
	for i := range res.Points {
		p := &res.Points[i]
		x := float64(p.Entities)
		xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
		for _, s := range linearSeries {
			if ph := phaseOf(p, s.run, s.phase); ph != nil && ph.CPUSeconds > 0 {
				ymin, ymax = math.Min(ymin, ph.CPUSeconds), math.Max(ymax, ph.CPUSeconds)
				umax = math.Max(umax, ph.CPUMicrosPerEntity)
			}
		}
	}
	// Decades that hold every point.
	lx0, lx1 := math.Floor(math.Log10(xmin)), math.Ceil(math.Log10(xmax))
	ly0, ly1 := math.Floor(math.Log10(ymin)), math.Ceil(math.Log10(ymax))
	if lx1 == lx0 {
		lx1++
	}
	if ly1 == ly0 {
		ly1++
	}
	ustep := niceStep(umax / 5)
	u1 := math.Ceil(umax/ustep) * ustep
	if u1 == 0 {
		u1 = 1
	}
	ph := float64(h - top - bottom)
	xpos := func(panel int, x float64) float64 {
		return lefts[panel] + (math.Log10(x)-lx0)/(lx1-lx0)*pw
	}
	ylog := func(y float64) float64 { return top + ph - (math.Log10(y)-ly0)/(ly1-ly0)*ph }
	ylin := func(u float64) float64 { return top + ph - u/u1*ph }

	for panel := 0; panel < 2; panel++ {
		l := lefts[panel]
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%d" height="%.1f" fill="none" stroke="#333"/>`+"\n", l, top, pw, ph)
		for d := lx0; d <= lx1; d++ {
			x := xpos(panel, math.Pow(10, d))
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x, top, x, top+ph)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, top+ph+16, count(math.Pow(10, d)))
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">entities (log scale)</text>`+"\n", l+pw/2, top+ph+34)
	}
	for d := ly0; d <= ly1; d++ {
		y := ylog(math.Pow(10, d))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", lefts[0], y, lefts[0]+pw, y)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", lefts[0]-5, y+4, seconds(math.Pow(10, d)))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">CPU seconds (log scale); grey: linear</text>`+"\n", lefts[0]+pw/2, top-8)
	for u := 0.0; u <= u1+ustep/2; u += ustep {
		y := ylin(u)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", lefts[1], y, lefts[1]+pw, y)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%g</text>`+"\n", lefts[1]-5, y+4, u)
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">CPU microseconds per entity (flat: linear)</text>`+"\n", lefts[1]+pw/2, top-8)

	// Slope-one guides through the smallest point of evaluate and persist.
	b.WriteString(`<g stroke="#bbb" stroke-width="1">` + "\n")
	for _, s := range linearSeries[:2] {
		first := phaseOf(&res.Points[0], s.run, s.phase)
		if first == nil || first.CPUSeconds <= 0 {
			continue
		}
		x0 := float64(res.Points[0].Entities)
		for _, x1 := range []float64{math.Pow(10, lx1)} {
			y1 := first.CPUSeconds * x1 / x0
			// clip at the top of the panel
			if y1 > math.Pow(10, ly1) {
				x1 = x0 * math.Pow(10, ly1) / first.CPUSeconds
				y1 = math.Pow(10, ly1)
			}
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", xpos(0, x0), ylog(first.CPUSeconds), xpos(0, x1), ylog(y1))
		}
	}
	b.WriteString("</g>\n")

	for _, s := range linearSeries {
		dash := ""
		if s.dash {
			dash = ` stroke-dasharray="6 4"`
		}
		var left, right []string
		for i := range res.Points {
			p := &res.Points[i]
			phs := phaseOf(p, s.run, s.phase)
			if phs == nil || phs.CPUSeconds <= 0 {
				continue
			}
			x := float64(p.Entities)
			left = append(left, fmt.Sprintf("%.1f,%.1f", xpos(0, x), ylog(phs.CPUSeconds)))
			right = append(right, fmt.Sprintf("%.1f,%.1f", xpos(1, x), ylin(phs.CPUMicrosPerEntity)))
		}
		for _, pts := range [][]string{left, right} {
			if len(pts) == 0 {
				continue
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", s.color, dash, join(pts))
			for _, pt := range pts {
				var x, y float64
				fmt.Sscanf(pt, "%f,%f", &x, &y)
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x, y, s.color)
			}
		}
	}
	// Legend.
	ly := float64(h - 30)
	lx := 20.0
	for i, s := range linearSeries {
		if i == 3 {
			lx, ly = 20, ly+18
		}
		dash := ""
		if s.dash {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", lx, ly-4, lx+24, ly-4, s.color, dash)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", lx+28, ly, html.EscapeString(s.label))
		lx += 28 + 6.4*float64(len(s.label)) + 14
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func join(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x)
	}
	return b.String()
}

// niceStep rounds a grid step up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func count(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%gM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%gk", x/1e3)
	}
	return fmt.Sprintf("%g", x)
}

func seconds(x float64) string {
	if x < 1 {
		return fmt.Sprintf("%gms", x*1000)
	}
	return fmt.Sprintf("%gs", x)
}

// LinearTable writes the growth measurement as a Markdown table, one row
// per size and run.
func LinearTable(w io.Writer, res *LinearResult) error {
	tw := &errWriter{w: w}
	fmt.Fprintf(tw, "| entities | people | run | opened/resolved | correlate CPU s | evaluate wall s | evaluate CPU s | µs/entity | allocs/entity | peak heap | persist wall s | persist CPU s | µs/entity | allocs/entity | peak RSS |\n")
	fmt.Fprintf(tw, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for i := range res.Points {
		p := &res.Points[i]
		for _, r := range p.Runs {
			c, e, s := phaseOf(p, r.Name, "correlate"), phaseOf(p, r.Name, "evaluate"), phaseOf(p, r.Name, "persist")
			if c == nil || e == nil || s == nil {
				continue
			}
			n := float64(p.Entities)
			fmt.Fprintf(tw, "| %d | %d | %s | %d/%d | %.2f | %.2f | %.2f | %.2f | %.1f | %s | %.2f | %.2f | %.2f | %.1f | %s |\n",
				p.Entities, p.People, r.Name, r.Changes["opened"], r.Changes["resolved"], c.CPUSeconds,
				e.Seconds, e.CPUSeconds, e.CPUMicrosPerEntity, float64(e.Allocs)/n, MiB(e.PeakHeap),
				s.Seconds, s.CPUSeconds, s.CPUMicrosPerEntity, float64(s.Allocs)/n, MiB(s.PeakRSS))
		}
	}
	return tw.err
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(b)
	e.err = err
	return n, err
}
