package analysis

import (
	"bytes"
	"compress/gzip"
	"testing"
)

// FuzzUnmarshalLevels feeds the levels decoder, which reads what a
// manifest carries, arbitrary bytes, gzipped and not: it must return
// levels or an error, never panic or allocate beyond its cell bound, and
// levels it returns must survive a round trip.
func FuzzUnmarshalLevels(f *testing.F) {
	for _, args := range []string{"N=1", "N=5"} {
		p := mustPlan(f, "cholesky", args)
		l, err := p.ComputeLevels(1 << 20)
		if err != nil {
			f.Fatal(err)
		}
		data, err := l.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, false)
		raw, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			f.Fatal(err)
		}
		var b bytes.Buffer
		if _, err := b.ReadFrom(raw); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes(), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, zip bool) {
		if zip { // let the fuzzer work on the format inside the gzip
			var b bytes.Buffer
			w := gzip.NewWriter(&b)
			w.Write(data)
			w.Close()
			data = b.Bytes()
		}
		l, err := UnmarshalLevels(data)
		if err != nil {
			return
		}
		again, err := l.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		back, err := UnmarshalLevels(again)
		if err != nil {
			t.Fatalf("levels that decoded do not decode again: %v", err)
		}
		if back.Max() != l.Max() || len(back.boxes) != len(l.boxes) {
			t.Fatalf("round trip changed the levels")
		}
	})
}

// TestRanked checks the plan a job schedules by: levels computed once and
// kept, none for the loop order (without taking them from a plan another
// job ranks by path), and the loop order when the levels would not fit.
func TestRanked(t *testing.T) {
	p := mustPlan(t, "cholesky", "N=6")
	q, ranked, err := p.Ranked(true, 1<<20)
	if err != nil || !ranked || q != p || p.Levels() == nil || p.Levels().Max() != 3*6-2 {
		t.Fatalf("by path: %v, %v, same plan %v", ranked, err, q == p)
	}
	l := p.Levels()
	if q, ranked, err = p.Ranked(true, 1<<20); err != nil || !ranked || q.Levels() != l {
		t.Fatalf("by path again: levels recomputed or lost (%v, %v)", ranked, err)
	}
	if q, ranked, err = p.Ranked(false, 1<<20); err != nil || ranked || q == p || q.Levels() != nil || p.Levels() != l {
		t.Fatalf("by loops: %v, %v; copy %v without levels %v, original kept %v", ranked, err, q != p, q.Levels() == nil, p.Levels() == l)
	}
	big := mustPlan(t, "cholesky", "N=6")
	if q, ranked, err = big.Ranked(true, 10); err != nil || ranked || q.Levels() != nil {
		t.Fatalf("over the cells: %v, %v, levels %v", ranked, err, q.Levels() != nil)
	}
}
