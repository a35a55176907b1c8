package chart

import (
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// A Span is one phase of one piece of work on a row of a Gantt chart:
// from Start to End, coloured by Phase (an index into Gantt.Phases).
// Spans of one Item are drawn in one lane of their row.
type Span struct {
	Row        int
	Item       int // spans of one item share a lane
	Phase      int
	Start, End float64
}

// Gantt is a chart of spans per row: a job's task phases (read, compute,
// write) per worker over time. Items that overlap on a row (a worker's
// pipelined tasks) are drawn in lanes side by side.
type Gantt struct {
	Title, XLabel string
	Rows          []string // row labels, bottom up
	Phases        []string
	Spans         []Span
	Marks         []Mark
	Width, Height vg.Length // default 8 in, and 4.5 in or more for many rows
}

// Save draws the chart into a PNG file at path.
func (g Gantt) Save(path string) error {
	if len(g.Spans) == 0 {
		return fmt.Errorf("chart %q: no spans", g.Title)
	}
	p := plot.New()
	p.Title.Text = g.Title
	p.X.Label.Text, p.Y.Label.Text = g.XLabel, "worker"
	bars := &bars{spans: g.Spans, lanes: lanes(g.Spans, len(g.Rows))}
	p.Add(bars)
	p.Legend.Top = true
	for i, name := range g.Phases {
		p.Legend.Add(name, swatch{Palette[i%len(Palette)]})
	}
	p.Y.Min, p.Y.Max = 0, float64(len(g.Rows))
	p.X.Max += 0.12 * (p.X.Max - p.X.Min) // room for the legend
	ticks := make([]plot.Tick, 0, len(g.Rows))
	every := max(1, len(g.Rows)/30)
	for i, name := range g.Rows {
		if i%every == 0 {
			ticks = append(ticks, plot.Tick{Value: float64(i) + 0.5, Label: name})
		}
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	if err := addMarks(p, g.Marks, 0.97*float64(len(g.Rows))); err != nil {
		return err
	}
	h := g.Height
	if h == 0 {
		h = max(4.5*vg.Inch, vg.Length(len(g.Rows))*vg.Points(6)+vg.Inch)
	}
	return save(p, path, g.Width, h)
}

// lanes gives each span's item a lane in its row so that no two items of
// a row whose time ranges overlap share one, and returns for each span
// its lane and its row's number of lanes.
func lanes(spans []Span, rows int) [][2]int {
	type item struct {
		row, id    int
		start, end float64
	}
	byKey := map[[2]int]*item{}
	for _, s := range spans {
		it := byKey[[2]int{s.Row, s.Item}]
		if it == nil {
			it = &item{row: s.Row, id: s.Item, start: s.Start, end: s.End}
			byKey[[2]int{s.Row, s.Item}] = it
		}
		it.start, it.end = math.Min(it.start, s.Start), math.Max(it.end, s.End)
	}
	items := make([]*item, 0, len(byKey))
	for _, it := range byKey {
		items = append(items, it)
	}
	slices.SortFunc(items, func(a, b *item) int {
		return cmp.Or(cmp.Compare(a.row, b.row), cmp.Compare(a.start, b.start), cmp.Compare(a.id, b.id))
	})
	lane := map[[2]int]int{}
	free := make([][]float64, rows) // per row, when each lane is free
	for _, it := range items {
		l := slices.IndexFunc(free[it.row], func(t float64) bool { return t <= it.start })
		if l < 0 {
			l = len(free[it.row])
			free[it.row] = append(free[it.row], 0)
		}
		free[it.row][l] = it.end
		lane[[2]int{it.row, it.id}] = l
	}
	out := make([][2]int, len(spans))
	for i, s := range spans {
		out[i] = [2]int{lane[[2]int{s.Row, s.Item}], len(free[s.Row])}
	}
	return out
}

// bars is the plotter of a Gantt chart's spans.
type bars struct {
	spans []Span
	lanes [][2]int
}

func (b *bars) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	for i, s := range b.spans {
		lane, n := b.lanes[i][0], b.lanes[i][1]
		h := 0.8 / float64(n)
		y0 := float64(s.Row) + 0.1 + float64(lane)*h
		x0, x1 := tx(s.Start), tx(s.End)
		if x1-x0 < 0.5 { // at least half a point, to be seen
			x1 = x0 + 0.5
		}
		rect := c.ClipPolygonXY([]vg.Point{{X: x0, Y: ty(y0)}, {X: x1, Y: ty(y0)}, {X: x1, Y: ty(y0 + h)}, {X: x0, Y: ty(y0 + h)}})
		c.FillPolygon(Palette[s.Phase%len(Palette)], rect)
	}
}

// DataRange implements plot.DataRanger.
func (b *bars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = math.Inf(1), math.Inf(-1)
	for _, s := range b.spans {
		xmin, xmax = math.Min(xmin, s.Start), math.Max(xmax, s.End)
	}
	return xmin, xmax, 0, 1
}

// swatch is a legend entry's filled square.
type swatch struct{ c color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	c.FillPolygon(s.c, []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}})
}

// vline is a dashed vertical line across the whole plot, at x.
type vline struct{ x float64 }

func (v vline) Plot(c draw.Canvas, p *plot.Plot) {
	tx, _ := p.Transforms(&c)
	x := tx(v.x)
	c.StrokeLines(draw.LineStyle{Color: color.Gray{Y: 60}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(3), vg.Points(3)}},
		c.ClipLinesX([]vg.Point{{X: x, Y: c.Min.Y}, {X: x, Y: c.Max.Y}})...)
}
