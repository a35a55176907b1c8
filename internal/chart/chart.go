// Package chart draws npw's figures as PNG files with gonum/plot: line
// charts of series over time or size (a job's timeline and flop rate, the
// experiments under benchmarks/) and Gantt charts of spans per row (a
// job's tasks per worker).
package chart

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Palette is the colours of series and phases, in order: colour-blind
// safe (Okabe and Ito).
var Palette = []color.Color{
	color.RGBA{0, 114, 178, 255},   // blue
	color.RGBA{230, 159, 0, 255},   // orange
	color.RGBA{0, 158, 115, 255},   // green
	color.RGBA{204, 121, 167, 255}, // purple
	color.RGBA{213, 94, 0, 255},    // vermillion
	color.RGBA{86, 180, 233, 255},  // sky blue
	color.RGBA{240, 228, 66, 255},  // yellow
	color.Black,
}

// A Series is one line: points (X[i], Y[i]).
type Series struct {
	Name   string
	X, Y   []float64
	Steps  bool     // a step function: each value holds until the next X
	Points bool     // mark each point
	NoLine bool     // with Points: the points alone, unjoined (a scatter)
	Labels []string // a label beside each point, if given
	Dashed bool
}

// A Mark is a vertical line at X with a label, such as a failure.
type Mark struct {
	X     float64
	Label string
}

// Lines is a line chart.
type Lines struct {
	Title, XLabel, YLabel string
	Series                []Series
	Marks                 []Mark
	LogX, LogY            bool
	// XTicks, when set, are the x axis's only labelled ticks (the sizes
	// measured, on a log axis).
	XTicks []float64
	// Width and Height default to 8 and 4.5 inches.
	Width, Height vg.Length
}

// Save draws the chart into a PNG file at path (an error when a series
// has no points or unequal X and Y).
func (l Lines) Save(path string) error {
	p, err := l.plot()
	if err != nil {
		return err
	}
	return save(p, path, l.Width, l.Height)
}

// PNG draws the chart as PNG bytes.
func (l Lines) PNG() ([]byte, error) {
	p, err := l.plot()
	if err != nil {
		return nil, err
	}
	return encode(p, l.Width, l.Height)
}

func (l Lines) plot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = l.Title
	p.X.Label.Text, p.Y.Label.Text = l.XLabel, l.YLabel
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	if l.LogX {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	}
	if l.LogY {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	}
	if len(l.XTicks) > 0 {
		ticks := make([]plot.Tick, len(l.XTicks))
		for i, x := range l.XTicks {
			ticks[i] = plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'g', -1, 64)}
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
	}
	ymax := math.Inf(-1)
	for i, s := range l.Series {
		if len(s.X) == 0 || len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("chart %q: series %q has %d x and %d y values", l.Title, s.Name, len(s.X), len(s.Y))
		}
		xy := make(plotter.XYs, len(s.X))
		for j := range s.X {
			xy[j] = plotter.XY{X: s.X[j], Y: s.Y[j]}
			ymax = math.Max(ymax, s.Y[j])
		}
		line, err := plotter.NewLine(xy)
		if err != nil {
			return nil, fmt.Errorf("chart %q: series %q: %w", l.Title, s.Name, err)
		}
		c := Palette[i%len(Palette)]
		line.Color, line.Width = c, vg.Points(1.5)
		if s.Steps {
			line.StepStyle = plotter.PostStep
		}
		if s.Dashed {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		var legend plot.Thumbnailer = line
		if !(s.NoLine && s.Points) {
			p.Add(line)
		}
		if s.Points {
			pts, err := plotter.NewScatter(xy)
			if err != nil {
				return nil, fmt.Errorf("chart %q: series %q: %w", l.Title, s.Name, err)
			}
			pts.Color, pts.Shape = c, draw.CircleGlyph{}
			p.Add(pts)
			if s.NoLine {
				legend = pts
			}
		}
		if len(l.Series) > 1 && s.Name != "" { // one series is named by the title and axes
			p.Legend.Add(s.Name, legend)
		}
		if len(s.Labels) > 0 {
			if len(s.Labels) != len(xy) {
				return nil, fmt.Errorf("chart %q: series %q has %d labels for %d points", l.Title, s.Name, len(s.Labels), len(xy))
			}
			labels, err := plotter.NewLabels(plotter.XYLabels{XYs: xy, Labels: s.Labels})
			if err != nil {
				return nil, fmt.Errorf("chart %q: series %q: %w", l.Title, s.Name, err)
			}
			for i := range labels.TextStyle {
				labels.TextStyle[i].Color = c
			}
			labels.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(3)}
			p.Add(labels)
		}
	}
	if err := addMarks(p, l.Marks, 0.8*ymax); err != nil {
		return nil, err
	}
	return p, nil
}

// addMarks draws each mark as a dashed vertical line across the plot,
// its label at height y.
func addMarks(p *plot.Plot, marks []Mark, y float64) error {
	for _, m := range marks {
		p.Add(vline{x: m.X})
		if m.Label != "" {
			labels, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: m.X, Y: y}}, Labels: []string{" " + m.Label}})
			if err != nil {
				return err
			}
			p.Add(labels)
		}
	}
	return nil
}

// save writes p as a PNG of the given size (default 8×4.5 in), making
// path's directory.
func save(p *plot.Plot, path string, w, h vg.Length) error {
	data, err := encode(p, w, h)
	if err != nil {
		return fmt.Errorf("chart %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// encode draws p as a PNG of the given size (default 8×4.5 in).
func encode(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	if w == 0 {
		w = 8 * vg.Inch
	}
	if h == 0 {
		h = 4.5 * vg.Inch
	}
	wt, err := p.WriterTo(w, h, "png")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// An Interval is an amount spread evenly over [Start, End): a task's
// flops over its kernel's run.
type Interval struct {
	Start, End, Amount float64
}

// Rate sums intervals into bins of dt from 0 to end: each bin's y is the
// amount per unit of x that fell in it (flop/s from flops over seconds).
// Empty intervals are left out.
func Rate(intervals []Interval, dt, end float64) (x, y []float64) {
	n := int(end/dt) + 1
	x, y = make([]float64, n), make([]float64, n)
	for i := range x {
		x[i] = float64(i) * dt
	}
	for _, iv := range intervals {
		if iv.Amount == 0 || iv.End <= iv.Start {
			continue
		}
		per := iv.Amount / (iv.End - iv.Start)
		for i := max(0, int(iv.Start/dt)); i < n && float64(i)*dt < iv.End; i++ {
			if lo, hi := max(iv.Start, float64(i)*dt), min(iv.End, float64(i+1)*dt); hi > lo {
				y[i] += per * (hi - lo) / dt
			}
		}
	}
	return x, y
}
