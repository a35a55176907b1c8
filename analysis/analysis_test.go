package analysis

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	lp "github.com/npw-dev/npw/lambdapack"
)

// A testCase is a program and one assignment of its scalar arguments.
type testCase struct {
	name      string
	prog      *lp.Program
	args      map[string]lp.Value
	fallbacks bool // the program is expected to need fallback enumeration
}

func (c testCase) String() string {
	var parts []string
	for k, v := range c.args {
		parts = append(parts, k+"="+v.String())
	}
	slices.Sort(parts)
	return c.name + " " + strings.Join(parts, " ")
}

// shippedSizes are the sizes each shipped program is tested on: one tile,
// powers of two, primes and other non-powers.
var shippedSizes = map[string]string{
	"cholesky": "N=1,2,3,4,5,6,7,8,9,11,13,16,17,23,32",
	"tsqr":     "N=1,2,3,4,5,6,7,8,9,11,13,16,17,31,32,33,64,100",
	"gemm":     "M=1,2,3 N=1,2,5 K=1,2,3,4,5,7,8,9,16,17 G=1,2,3,4,17",
	"trsolve":  "N=1,2,3,4,5,7,8,13 NRHS=1,2,3 OP=0,1,2",
	"posv":     "N=1,2,3,4,5,8,11 NRHS=1,3",
	"potri":    "N=1,2,3,4,5,7,8,11,16",
	"qr":       "MT=1,2,3,4,5,7,8,9,13 NT=1,2,3,5,8",
	// KT <= MT, as the factorisation of an MT x NT grid gives KT = min(MT, NT);
	// specs separated by ";" are tested one after the other.
	"qr_apply_qt": "MT=1 KT=1 NB=1,2; MT=2 KT=1,2 NB=1,3; MT=3,5,8,9,16 KT=1,2,3 NB=1,2",
	"qr_apply_q":  "MT=1 KT=1 NB=1,2 OFF=0; MT=2 KT=1,2 NB=1,3 OFF=0; MT=3,5,8,9,16 KT=1,2,3 NB=1,2 OFF=0; MT=2 KT=1 NB=1,2 OFF=1; MT=3 KT=1,2 NB=1,2 OFF=1; MT=4,5,8,9,13 KT=1,2,3 NB=1,2 OFF=1; MT=6 KT=5 NB=2 OFF=1",
	// MT >= NT: a wide matrix is reduced through its transpose.
	"bdfac": "MT=1 NT=1 VEC=0,1 BS=4 MR=60 NC=60; MT=2 NT=1,2 VEC=0,1 BS=4 MR=60 NC=60; MT=3 NT=1,2,3 VEC=0,1 BS=4 MR=60 NC=60; MT=5 NT=2,4,5 VEC=0,1 BS=4 MR=60 NC=60; MT=8 NT=3,8 VEC=0 BS=4 MR=60 NC=60; MT=9 NT=9 VEC=0 BS=4 MR=60 NC=60; MT=13 NT=6 VEC=0,1 BS=4 MR=60 NC=60",
	"svdv":  "MT=1 NT=1 M=4 N=3 BS=4; MT=3 NT=1,2,3 M=10 N=9 BS=4; MT=5 NT=2,5 M=20 N=20 BS=4",
	"lu":    "N=1,2,3,4,5,6,7,8,9,11",
	// The scalars after MT and NT only reach the kernel.
	"generate":  "MT=1,2,3,7 NT=1,2,5 KIND=1 SEED=3 ROWS=20 COLS=20 B=4",
	"retile":    "MT=1,2,3,7 NT=1,2,5",
	"transpose": "MT=1,2,3,7 NT=1,2,5",
	// BS and NR only reach the kernel.
	"sytrb": "N=1,2,3,4,5,6,7,8,9,11,13,16 BS=4 NR=64 VEC=0,1",
	// KT = min(MT, NT) for geqrf; wy_apply_q and wy_apply_qt take
	// geqrf's panels (OFF = 0, KT <= MT) and sytrb's (OFF = 1,
	// KT = MT - 1).
	"geqrf":       "MT=1 NT=1,2,3 KT=1 BS=4 MR=40; MT=2 NT=1 KT=1 BS=4 MR=40; MT=2 NT=2,3,5 KT=2 BS=4 MR=40; MT=3,5,8 NT=1 KT=1 BS=4 MR=40; MT=5 NT=3 KT=3 BS=4 MR=40; MT=7 NT=7,9 KT=7 BS=4 MR=40; MT=9 NT=4 KT=4 BS=4 MR=40; MT=4 NT=9 KT=4 BS=4 MR=40; MT=11 NT=11 KT=11 BS=4 MR=40",
	"wy_apply_q":  "MT=1 KT=1 NB=1,2 OFF=0; MT=2 KT=1,2 NB=1,3 OFF=0; MT=3,5,8 KT=1,2,3 NB=1,2 OFF=0; MT=2 KT=1 NB=1,2 OFF=1; MT=5 KT=4 NB=1,3 OFF=1; MT=11 KT=10 NB=2 OFF=1",
	"wy_apply_qt": "MT=1 KT=1 NB=1,2; MT=2 KT=1,2 NB=1,3; MT=3,5,8,11 KT=1,2,3 NB=1,2; MT=6 KT=6 NB=2",
	"syevv":       "N=1,2,3,5,8 BS=4 NR=30",
	// COLS and B only reach the kernel.
	"permutation": "N=1,2,3,7 NC=1,2,5 COLS=20 B=4",
}

// expand turns "M=1,2 N=3,4" into every combination of values.
func expand(t *testing.T, spec string) []map[string]lp.Value {
	combos := []map[string]lp.Value{{}}
	for _, field := range strings.Fields(spec) {
		name, list, ok := strings.Cut(field, "=")
		if !ok {
			t.Fatalf("bad args spec %q", spec)
		}
		var next []map[string]lp.Value
		for _, c := range combos {
			for _, s := range strings.Split(list, ",") {
				v, err := lp.ParseValue(s)
				if err != nil {
					t.Fatal(err)
				}
				m := map[string]lp.Value{name: v}
				for k, x := range c {
					m[k] = x
				}
				next = append(next, m)
			}
		}
		combos = next
	}
	return combos
}

func header(src, key string) (string, bool) {
	for _, line := range strings.Split(src, "\n") {
		if rest, ok := strings.CutPrefix(line, "# "+key+":"); ok {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}

// allCases returns the shipped programs and the synthetic programs of
// testdata with every size they are tested on.
func allCases(t *testing.T) []testCase {
	var cases []testCase
	for _, name := range lp.Shipped() {
		prog, err := lp.LoadProgram(name)
		if err != nil {
			t.Fatal(err)
		}
		spec, ok := shippedSizes[name]
		if !ok {
			t.Fatalf("shipped program %s has no test sizes", name)
		}
		for _, one := range strings.Split(spec, ";") {
			for _, args := range expand(t, one) {
				cases = append(cases, testCase{name: name, prog: prog, args: args})
			}
		}
	}
	files, err := filepath.Glob("testdata/*.lp")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test programs in analysis/testdata: %v", err)
	}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		prog, err := lp.Load(file, string(src))
		if err != nil {
			t.Fatal(err)
		}
		spec, ok := header(string(src), "args")
		if !ok {
			t.Fatalf("%s: no '# args:' line", file)
		}
		_, fb := header(string(src), "fallbacks")
		for _, args := range expand(t, spec) {
			cases = append(cases, testCase{name: file, prog: prog, args: args, fallbacks: fb})
		}
	}
	return cases
}

func sorted(nodes []Node) []Node {
	out := slices.Clone(nodes)
	slices.SortFunc(out, Node.Compare)
	return out
}

// TestSolverMatchesOracle is the central property: for every program and
// size, the solver's tasks, children, parents, indegrees, starters and
// counts are exactly the brute-force oracle's, and the shipped programs
// never fall back to enumerating a constrained loop variable.
func TestSolverMatchesOracle(t *testing.T) {
	for _, c := range allCases(t) {
		t.Run(c.String(), func(t *testing.T) {
			p, err := NewPlan(c.prog, c.args)
			if err != nil {
				t.Fatal(err)
			}
			o, err := BuildOracle(p, 0)
			if err != nil {
				t.Fatal(err)
			}
			if o.ProblemCount > 0 {
				t.Fatalf("program is not write-once: %v", o.Problems)
			}
			compareWithOracle(t, p, o)
			fb := p.Stats().FallbackEnumerations
			if c.fallbacks && fb == 0 && o.Len() > 1 {
				t.Errorf("expected fallback enumerations, counted none")
			}
			if !c.fallbacks && fb != 0 {
				t.Errorf("%d fallback enumerations", fb)
			}
		})
	}
}

func compareWithOracle(t *testing.T, p *Plan, o *Oracle) {
	t.Helper()
	var walked []Node
	if err := p.Walk(func(n Node) error { walked = append(walked, n); return nil }); err != nil {
		t.Fatal(err)
	}
	if got, want := sorted(walked), sorted(o.Nodes); !slices.Equal(got, want) {
		t.Fatalf("Walk gives %d tasks, oracle %d", len(got), len(want))
	}
	count, err := p.Count()
	if err != nil || count != int64(o.Len()) {
		t.Fatalf("Count = %d, %v; oracle has %d tasks", count, err, o.Len())
	}
	var edges, parentEdges int64
	for _, n := range o.Nodes {
		children, err := p.Children(n, nil)
		if err != nil {
			t.Fatalf("Children(%s): %v", p.Describe(n), err)
		}
		if got, want := sorted(children), o.Children(n); !slices.Equal(got, want) {
			t.Fatalf("Children(%s):\n got %v\nwant %v", p.Describe(n), got, want)
		}
		if len(children) != len(slices.Compact(sorted(children))) {
			t.Fatalf("Children(%s) has duplicates: %v", p.Describe(n), children)
		}
		parents, err := p.Parents(n, nil)
		if err != nil {
			t.Fatalf("Parents(%s): %v", p.Describe(n), err)
		}
		if got, want := sorted(parents), o.Parents(n); !slices.Equal(got, want) {
			t.Fatalf("Parents(%s):\n got %v\nwant %v", p.Describe(n), got, want)
		}
		if len(parents) != len(slices.Compact(sorted(parents))) {
			t.Fatalf("Parents(%s) has duplicates: %v", p.Describe(n), parents)
		}
		deg, err := p.Indegree(n)
		if err != nil || deg != len(parents) {
			t.Fatalf("Indegree(%s) = %d, %v; want %d", p.Describe(n), deg, err, len(parents))
		}
		back, err := p.ParseKey(n.Key())
		if err != nil || back != n {
			t.Fatalf("ParseKey(%q) = %v, %v", n.Key(), back, err)
		}
		edges += int64(len(children))
		parentEdges += int64(len(parents))
	}
	if edges != parentEdges || edges != o.Edges() {
		t.Fatalf("edges: %d from children, %d from parents, %d in the oracle", edges, parentEdges, o.Edges())
	}
	starters, err := p.Starters()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sorted(starters), sorted(o.Starters()); !slices.Equal(got, want) {
		t.Fatalf("Starters:\n got %v\nwant %v", got, want)
	}
	compareLevels(t, p, o)
}

// compareLevels checks ComputeLevels, and the levels after a round trip
// through their serialised form, against the longest paths of the
// oracle's DAG. (A random program may read a tile before the task that
// writes it runs, so execution order is not the DAG's order.)
func compareLevels(t *testing.T, p *Plan, o *Oracle) {
	t.Helper()
	want := make(map[Node]int, o.Len())
	cycle := false
	var level func(n Node) int
	level = func(n Node) int {
		if l, ok := want[n]; ok {
			cycle = cycle || l < 0
			return l
		}
		want[n] = -1 // on the path
		best := 0
		for _, c := range o.Children(n) {
			if best = max(best, level(c)); cycle {
				return 0
			}
		}
		want[n] = best + 1
		return best + 1
	}
	most := 0
	for _, n := range o.Nodes {
		if most = max(most, level(n)); cycle {
			break
		}
	}
	l, err := p.ComputeLevels(1 << 24)
	if cycle {
		if err == nil || !strings.Contains(err.Error(), "cycle") {
			t.Fatalf("ComputeLevels of a cyclic graph: %v", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("ComputeLevels: %v", err)
	}
	data, err := l.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalLevels(data)
	if err != nil {
		t.Fatalf("UnmarshalLevels: %v", err)
	}
	for _, got := range []*Levels{l, back} {
		if got.Max() != most {
			t.Fatalf("critical path of %d tasks, want %d", got.Max(), most)
		}
		for _, n := range o.Nodes {
			if got.Of(n) != want[n] {
				t.Fatalf("level of %s is %d, want %d", p.Describe(n), got.Of(n), want[n])
			}
		}
	}
	q, err := NewPlan(p.prog, p.args)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.SetLevels(back); err != nil {
		t.Fatal(err)
	}
	// Priority orders by level first, then as the loop formula does.
	for i := 1; i < len(o.Nodes); i++ {
		a, b := o.Nodes[i-1], o.Nodes[i]
		la, lb := want[a], want[b]
		if pa, pb := q.Priority(a), q.Priority(b); (la > lb && pa <= pb) || (la < lb && pa >= pb) ||
			(la == lb && (pa < pb) != (p.Priority(a) < p.Priority(b))) {
			t.Fatalf("priorities %s (level %d) %d, %s (level %d) %d", p.Describe(a), la, pa, p.Describe(b), lb, pb)
		}
	}
}

// TestContainsRejectsNonTasks checks that keys of instances outside the
// iteration space are refused.
func TestContainsRejectsNonTasks(t *testing.T) {
	p := mustPlan(t, "cholesky", "N=4")
	for _, key := range []string{"0:4", "0:-1", "1:2,2", "1:0,4", "2:0,1,2", "2:1,3,1", "3:0", "0:1,2", "0:", "1:0"} {
		if _, err := p.ParseKey(key); err == nil {
			t.Errorf("ParseKey(%q) accepted a key that names no task", key)
		}
	}
	for _, key := range []string{"0:3", "1:0,3", "2:0,3,1", "2:2,3,3"} {
		if _, err := p.ParseKey(key); err != nil {
			t.Errorf("ParseKey(%q): %v", key, err)
		}
	}
	for _, key := range []string{"x", "1", "1:a", "01:1", "1:01", "1:1,,2", "99999999:1", "1:1,2,3,4,5,6,7,8,9"} {
		if _, err := parseNodeKey(key); err == nil {
			t.Errorf("parseNodeKey(%q) accepted a malformed key", key)
		}
	}
}

func mustPlan(t testing.TB, name, args string) *Plan {
	t.Helper()
	prog, err := lp.LoadProgram(name)
	if err != nil {
		t.Fatal(err)
	}
	a, err := lp.ParseArgs(strings.Fields(args))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(prog, a)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPaperExamples checks the two worked examples of the paper's §3.2.
func TestPaperExamples(t *testing.T) {
	// Cholesky: the syrk task (i=0, j=1, k=1) writes S[1,1,1], read only by
	// chol at i=1.
	p := mustPlan(t, "cholesky", "N=4")
	children, err := p.Children(Node{Stmt: 2, Depth: 3, Vals: [8]int32{0, 1, 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Node{{Stmt: 0, Depth: 1, Vals: [8]int32{1}}}; !slices.Equal(children, want) {
		t.Errorf("children of syrk(0,1,1) = %v, want %v", children, want)
	}
	// TSQR: qr_factor at level 0, i = 6 writes R[6, 1]; solving
	// R[i + 2**level, level] = R[6, 1] gives level = 1, then i = 4.
	q := mustPlan(t, "tsqr", "N=8")
	children, err = q.Children(Node{Stmt: 1, Depth: 2, Vals: [8]int32{0, 6}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Node{{Stmt: 1, Depth: 2, Vals: [8]int32{1, 4}}}; !slices.Equal(children, want) {
		t.Errorf("children of qr_factor(level=0, i=6) = %v, want %v", children, want)
	}
}

func TestPlanRoundTrip(t *testing.T) {
	for _, tc := range []struct{ prog, args string }{
		{"cholesky", "N=256"}, {"tsqr", "N=1000000"}, {"gemm", "M=64 N=64 K=64 G=8"}, {"testdata/rev.lp", "N=5 alpha=0.1"},
	} {
		p := mustPlan(t, tc.prog, tc.args)
		data, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 4096 {
			t.Errorf("%s plan is %d bytes, want at most 4 KiB", tc.prog, len(data))
		}
		q, err := UnmarshalPlan(data)
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.prog, err, data)
		}
		for name, v := range p.Args() {
			if q.Args()[name] != v {
				t.Errorf("%s: argument %s = %v after the round trip, want %v", tc.prog, name, q.Args()[name], v)
			}
		}
		again, _ := q.MarshalBinary()
		if string(again) != string(data) {
			t.Errorf("%s: marshalling is not stable:\n%s\n%s", tc.prog, data, again)
		}
	}
	if _, err := UnmarshalPlan([]byte(`{"format":"npw-plan/0"}`)); err == nil || !strings.Contains(err.Error(), "format") {
		t.Errorf("old format accepted: %v", err)
	}
}

func TestPlanSizeIsConstant(t *testing.T) {
	var sizes []int
	for _, n := range []int{16, 256, 4096, 1 << 20} {
		data, err := mustPlan(t, "cholesky", fmt.Sprintf("N=%d", n)).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(data))
	}
	if sizes[len(sizes)-1]-sizes[0] > 8 { // only the digits of N differ
		t.Errorf("plan sizes grow with N: %v", sizes)
	}
}

func TestBindErrors(t *testing.T) {
	prog, err := lp.LoadProgram("cholesky")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args map[string]lp.Value
		want string
	}{
		{map[string]lp.Value{}, "missing value for parameter N (give N=int)"},
		{map[string]lp.Value{"N": lp.Float(2.5)}, "parameter N is an int, got 2.5"},
		{map[string]lp.Value{"N": lp.Int(2), "M": lp.Int(3)}, "cholesky has no parameter M (parameters: O: BigMatrix, S: BigMatrix, N: int)"},
		{map[string]lp.Value{"N": lp.Int(2), "O": lp.Int(3)}, "O is a BigMatrix and takes no scalar value"},
	} {
		_, err := NewPlan(prog, tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("args %v: got %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestTilesAndScalarArgs(t *testing.T) {
	p := mustPlan(t, "testdata/rev.lp", "N=5 alpha=2.5")
	// D[k] = scale(C[(k - 1) // 2], alpha * 2) for k = 2N-1, 2N-3, ..., 1.
	n, err := p.ParseKey("4:7")
	if err != nil {
		t.Fatal(err)
	}
	if k := p.Kernel(n); k != "scale" {
		t.Errorf("kernel %s, want scale", k)
	}
	args, err := p.ScalarArgs(n)
	if err != nil || len(args) != 1 || args[0] != lp.Float(5) {
		t.Errorf("scalar args %v, %v; want [5.0]", args, err)
	}
	reads, writes, err := p.Tiles(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(reads) != 1 || p.TileString(reads[0]) != "C[3]" || len(writes) != 1 || p.TileString(writes[0]) != "D[7]" {
		t.Errorf("reads %v writes %v", reads, writes)
	}
	if d := p.Describe(n); d != "scale(k=7)" {
		t.Errorf("Describe = %s", d)
	}
}

// TestReadersAndWriters checks the per-tile queries against the oracle.
func TestReadersAndWriters(t *testing.T) {
	for _, c := range allCases(t) {
		if c.fallbacks {
			continue
		}
		p, err := NewPlan(c.prog, c.args)
		if err != nil {
			t.Fatal(err)
		}
		o, err := BuildOracle(p, 0)
		if err != nil {
			t.Fatal(err)
		}
		for t2, readers := range o.readers {
			got, err := p.Readers(t2, nil)
			if err != nil {
				t.Fatal(err)
			}
			var want []Node
			for _, r := range readers {
				want = append(want, o.Nodes[r])
			}
			if !slices.Equal(sorted(got), sortUnique(want)) {
				t.Fatalf("%s: Readers(%s) = %v, want %v", c, p.TileString(t2), got, sortUnique(want))
			}
			w, written := o.writer[t2]
			if has, err := p.HasWriter(t2); err != nil || has != written {
				t.Fatalf("%s: HasWriter(%s) = %v, %v; want %v", c, p.TileString(t2), has, err, written)
			}
			var want1 []Node
			if written {
				want1 = []Node{o.Nodes[w]}
			}
			if got, err := p.Writers(t2, nil); err != nil || !slices.Equal(got, want1) {
				t.Fatalf("%s: Writers(%s) = %v, %v; want %v", c, p.TileString(t2), got, err, want1)
			}
		}
	}
}

// Writers finds a second writer of a tile, and stops there.
func TestWritersOfATileWrittenTwice(t *testing.T) {
	prog, err := lp.Load("twice.lp", "def f(A: BigMatrix, B: BigMatrix, N: int):\n    for i in range(N):\n        for j in range(N):\n            B[i] = add(A[i], A[j])\n")
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(prog, map[string]lp.Value{"N": lp.Int(3)})
	if err != nil {
		t.Fatal(err)
	}
	b := Tile{Matrix: uint8(p.MatrixIndex("B")), N: 1}
	got, err := p.Writers(b, nil)
	if err != nil || len(got) != 2 || p.Describe(got[0]) != "add(i=0, j=0)" || p.Describe(got[1]) != "add(i=0, j=1)" {
		t.Fatalf("Writers(B[0]) = %v, %v; want add(i=0, j=0) and add(i=0, j=1)", got, err)
	}
}
