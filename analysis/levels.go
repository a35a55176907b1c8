package analysis

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	lp "github.com/npw-dev/npw/lambdapack"
)

// Levels holds every task's bottom level: the number of tasks on the
// longest path from it to the end of the DAG, itself included. A task on
// the critical path has the highest level of its step; scheduling by
// level keeps that path moving and lets the rest wait (HEFT's upward
// rank with unit costs, as PLASMA and StarPU rank tasks).
//
// The levels are kept per statement in a dense box over the statement's
// loop values, so a worker finds a task's level by arithmetic on its key.
type Levels struct {
	boxes []levelBox // by statement
	// The loop formula's priorities lie in [loopLo, loopLo+span): they
	// break ties between tasks of one level.
	loopLo, span int
	max          uint32
}

// levelBox is one statement's levels, row-major over its loop values'
// bounding box; 0 marks a point of the box that is no task.
type levelBox struct {
	depth int
	lo    [lp.MaxLoopDepth]int32
	size  [lp.MaxLoopDepth]int32
	v     []uint32
}

// index returns n's place in the box.
func (b *levelBox) index(n Node) (int, bool) {
	i := 0
	for k := range b.depth {
		x := n.Vals[k] - b.lo[k]
		if x < 0 || x >= b.size[k] {
			return 0, false
		}
		i = i*int(b.size[k]) + int(x)
	}
	return i, true
}

// ErrTooManyLevels is returned by ComputeLevels when the boxes of levels
// would exceed the given number of cells.
var ErrTooManyLevels = errors.New("too many tasks to rank by critical path")

// ComputeLevels finds every task's level: one walk for the bounding boxes,
// then a depth-first search that asks each task for its children once.
// It refuses with ErrTooManyLevels a plan whose boxes hold more than
// maxCells values.
func (p *Plan) ComputeLevels(maxCells int64) (*Levels, error) {
	l := &Levels{boxes: make([]levelBox, len(p.stmts))}
	seen := make([]bool, len(p.stmts))
	his := make([][lp.MaxLoopDepth]int32, len(p.stmts))
	loopLo, loopHi := math.MaxInt, math.MinInt
	err := p.Walk(func(n Node) error {
		b := &l.boxes[n.Stmt]
		if !seen[n.Stmt] {
			seen[n.Stmt] = true
			b.depth = int(n.Depth)
			b.lo, his[n.Stmt] = n.Vals, n.Vals
		}
		for k := range b.depth {
			b.lo[k] = min(b.lo[k], n.Vals[k])
			his[n.Stmt][k] = max(his[n.Stmt][k], n.Vals[k])
		}
		lpr := p.loopPriority(n)
		loopLo, loopHi = min(loopLo, lpr), max(loopHi, lpr)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var cells int64
	for s := range l.boxes {
		b := &l.boxes[s]
		if !seen[s] {
			continue
		}
		size := int64(1)
		for k := range b.depth {
			b.size[k] = his[s][k] - b.lo[k] + 1
			size *= int64(b.size[k])
			if size > maxCells {
				return nil, ErrTooManyLevels
			}
		}
		if cells += size; cells > maxCells {
			return nil, ErrTooManyLevels
		}
	}
	for s := range l.boxes {
		b := &l.boxes[s]
		if seen[s] {
			n := 1
			for k := range b.depth {
				n *= int(b.size[k])
			}
			b.v = make([]uint32, n)
		}
	}
	if loopLo > loopHi {
		loopLo, loopHi = 0, 0
	}
	l.loopLo, l.span = loopLo, loopHi-loopLo+1

	d := levelSearch{p: p, l: l}
	err = p.Walk(d.visit)
	return l, err
}

// inProgress marks a task whose level the search is computing: meeting
// it again would be a cycle.
const inProgress = math.MaxUint32

// levelSearch is the depth-first search of ComputeLevels, with an explicit
// stack: a frame is a task and the range of its children in kids.
type levelSearch struct {
	p      *Plan
	l      *Levels
	frames []levelFrame
	kids   []Node
}

type levelFrame struct {
	cell      *uint32
	start     int // the frame's children are kids[start:end]
	next, end int // those still to visit: kids[next:end]
	best      uint32
}

func (d *levelSearch) cell(n Node) (*uint32, error) {
	b := &d.l.boxes[n.Stmt]
	i, ok := b.index(n)
	if !ok {
		return nil, fmt.Errorf("task %s lies outside its statement's loop ranges", n.Key())
	}
	return &b.v[i], nil
}

// push starts the frame of n.
func (d *levelSearch) push(n Node, c *uint32) error {
	*c = inProgress
	start := len(d.kids)
	var err error
	if d.kids, err = d.p.Children(n, d.kids); err != nil {
		return err
	}
	d.frames = append(d.frames, levelFrame{cell: c, start: start, next: start, end: len(d.kids)})
	return nil
}

func (d *levelSearch) visit(root Node) error {
	c, err := d.cell(root)
	if err != nil || *c != 0 {
		return err
	}
	if err := d.push(root, c); err != nil {
		return err
	}
	for len(d.frames) > 0 {
		f := &d.frames[len(d.frames)-1]
		if f.next == f.end {
			*f.cell = f.best + 1
			d.l.max = max(d.l.max, *f.cell)
			d.kids = d.kids[:f.start]
			d.frames = d.frames[:len(d.frames)-1]
			if len(d.frames) > 0 {
				up := &d.frames[len(d.frames)-1]
				up.best = max(up.best, *f.cell)
			}
			continue
		}
		child := d.kids[f.next]
		f.next++
		cc, err := d.cell(child)
		if err != nil {
			return err
		}
		switch *cc {
		case inProgress:
			return &lp.Error{Pos: d.p.Position(child), Msg: fmt.Sprintf("the DAG has a cycle: %s depends on itself, through a tile it reads before a later task writes it", d.p.Describe(child))}
		case 0:
			if err := d.push(child, cc); err != nil {
				return err
			}
		default:
			f.best = max(f.best, *cc)
		}
	}
	d.kids = d.kids[:0]
	return nil
}

// Of returns the level of task n: 0 for a node that is no task.
func (l *Levels) Of(n Node) int {
	if int(n.Stmt) >= len(l.boxes) {
		return 0
	}
	b := &l.boxes[n.Stmt]
	if b.depth != int(n.Depth) || b.v == nil {
		return 0
	}
	i, ok := b.index(n)
	if !ok {
		return 0
	}
	return int(b.v[i])
}

// Max returns the highest level: the number of tasks on the critical path.
func (l *Levels) Max() int { return int(l.max) }

// levelsFormat tags serialised levels.
const levelsFormat = "npw-levels/1\n"

// MarshalBinary serialises the levels, gzipped: a box of varints per
// statement.
func (l *Levels) MarshalBinary() ([]byte, error) {
	var raw []byte
	raw = append(raw, levelsFormat...)
	raw = binary.AppendVarint(raw, int64(l.loopLo))
	raw = binary.AppendUvarint(raw, uint64(l.span))
	raw = binary.AppendUvarint(raw, uint64(len(l.boxes)))
	for i := range l.boxes {
		b := &l.boxes[i]
		raw = binary.AppendUvarint(raw, uint64(b.depth))
		if b.v == nil {
			raw = binary.AppendUvarint(raw, 0)
			continue
		}
		raw = binary.AppendUvarint(raw, 1)
		for k := range b.depth {
			raw = binary.AppendVarint(raw, int64(b.lo[k]))
			raw = binary.AppendUvarint(raw, uint64(b.size[k]))
		}
		for _, v := range b.v {
			raw = binary.AppendUvarint(raw, uint64(v))
		}
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// maxLevelCells bounds the cells a serialised Levels may declare, so that
// a corrupt one cannot make its reader allocate without limit.
const maxLevelCells = 1 << 26

// UnmarshalLevels reads levels serialised by MarshalBinary.
func UnmarshalLevels(data []byte) (*Levels, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode levels: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, 3*maxLevelCells+1<<20))
	if err != nil {
		return nil, fmt.Errorf("decode levels: %w", err)
	}
	r := levelReader{b: raw}
	if !bytes.HasPrefix(raw, []byte(levelsFormat)) {
		return nil, errors.New("decode levels: not npw levels")
	}
	r.b = raw[len(levelsFormat):]
	l := &Levels{}
	l.loopLo = int(r.varint())
	l.span = int(r.uvarint(math.MaxInt32))
	nb := r.uvarint(1 << 16)
	var cells uint64
	for range nb {
		if r.err != nil {
			break
		}
		b := levelBox{depth: int(r.uvarint(lp.MaxLoopDepth))}
		if r.uvarint(1) == 1 {
			n := uint64(1)
			for k := range b.depth {
				b.lo[k] = int32(r.varint())
				b.size[k] = int32(r.uvarint(math.MaxInt32))
				n *= uint64(b.size[k])
				if n > maxLevelCells {
					r.fail("too many cells")
				}
			}
			if cells += n; cells > maxLevelCells || n > uint64(len(r.b)) || r.err != nil {
				r.fail("too many cells")
				break
			}
			b.v = make([]uint32, n)
			for i := range b.v {
				b.v[i] = uint32(r.uvarint(math.MaxUint32 - 1))
				l.max = max(l.max, b.v[i])
			}
		}
		l.boxes = append(l.boxes, b)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode levels: %w", r.err)
	}
	return l, nil
}

type levelReader struct {
	b   []byte
	err error
}

func (r *levelReader) fail(msg string) {
	if r.err == nil {
		r.err = errors.New(msg)
	}
}

func (r *levelReader) uvarint(limit uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > limit {
		r.fail("malformed or out of range number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *levelReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 || v < math.MinInt32 || v > math.MaxInt32 {
		r.fail("malformed or out of range number")
		return 0
	}
	r.b = r.b[n:]
	return v
}
