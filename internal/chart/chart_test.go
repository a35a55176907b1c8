package chart

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// colored counts the pixels of img within a small distance of c.
func colored(img image.Image, c color.Color) int {
	r0, g0, b0, _ := c.RGBA()
	n := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			d := func(a, b uint32) uint32 { return max(a, b) - min(a, b) }
			if d(r, r0)+d(g, g0)+d(b, b0) < 3*0x1000 {
				n++
			}
		}
	}
	return n
}

func load(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestLinesAndGantt draws a line chart and a Gantt chart and finds each
// series' and phase's colour in the PNG, in amounts that follow what was
// drawn: a wider bar has more pixels.
func TestLinesAndGantt(t *testing.T) {
	dir := t.TempDir()
	lines := Lines{Title: "t", XLabel: "x", YLabel: "y", Series: []Series{
		{Name: "a", X: []float64{0, 1, 2}, Y: []float64{0, 2, 1}},
		{Name: "b", X: []float64{0, 1, 2}, Y: []float64{1, 1, 3}, Steps: true, Points: true},
	}, Marks: []Mark{{X: 1.5, Label: "kill"}}}
	if err := lines.Save(filepath.Join(dir, "lines.png")); err != nil {
		t.Fatal(err)
	}
	img := load(t, filepath.Join(dir, "lines.png"))
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 300 {
		t.Errorf("image is %v", b)
	}
	for i := range lines.Series {
		if n := colored(img, Palette[i]); n < 100 {
			t.Errorf("series %d: %d pixels of its colour", i, n)
		}
	}
	// Points alone draw fewer pixels than the same points joined.
	scatter := func(noLine bool) int {
		l := Lines{Title: "s", Series: []Series{{Name: "p", X: []float64{0, 1, 2}, Y: []float64{0, 2, 1}, Points: true, NoLine: noLine}}}
		if err := l.Save(filepath.Join(dir, "scatter.png")); err != nil {
			t.Fatal(err)
		}
		return colored(load(t, filepath.Join(dir, "scatter.png")), Palette[0])
	}
	if alone, joined := scatter(true), scatter(false); alone < 20 || alone*2 > joined {
		t.Errorf("points alone: %d pixels, joined: %d", alone, joined)
	}
	gantt := Gantt{Title: "g", XLabel: "s", Rows: []string{"w1", "w2"}, Phases: []string{"read", "compute", "write"}, Spans: []Span{
		{Row: 0, Item: 0, Phase: 0, Start: 0, End: 1}, {Row: 0, Item: 0, Phase: 1, Start: 1, End: 5}, {Row: 0, Item: 0, Phase: 2, Start: 5, End: 6},
		{Row: 0, Item: 1, Phase: 1, Start: 2, End: 4}, // overlaps item 0: a second lane
		{Row: 1, Item: 2, Phase: 2, Start: 0, End: 3},
	}}
	if err := gantt.Save(filepath.Join(dir, "gantt.png")); err != nil {
		t.Fatal(err)
	}
	img = load(t, filepath.Join(dir, "gantt.png"))
	read, compute, write := colored(img, Palette[0]), colored(img, Palette[1]), colored(img, Palette[2])
	if read < 200 || compute < 4*read || write < read {
		t.Errorf("pixels: read %d, compute %d, write %d", read, compute, write)
	}
	if got := lanes(gantt.Spans, 2); got[3] != [2]int{1, 2} || got[0] != [2]int{0, 2} || got[4] != [2]int{0, 1} {
		t.Errorf("lanes %v", got)
	}
	if err := (Lines{Title: "bad", Series: []Series{{Name: "x", X: []float64{1}}}}).Save(filepath.Join(dir, "bad.png")); err == nil || !strings.Contains(err.Error(), `series "x" has 1 x and 0 y values`) {
		t.Errorf("bad series: %v", err)
	}
}

// TestRate spreads amounts over their intervals into bins.
func TestRate(t *testing.T) {
	x, y := Rate([]Interval{{Start: 0.5, End: 1.5, Amount: 10}, {Start: 1, End: 1, Amount: 7}, {Start: 2, End: 2.5, Amount: 1}}, 1, 2.5)
	if want := []float64{0, 1, 2}; !slices.Equal(x, want) {
		t.Errorf("x = %v, want %v", x, want)
	}
	if want := []float64{5, 5, 1}; !slices.Equal(y, want) {
		t.Errorf("y = %v, want %v", y, want)
	}
}
