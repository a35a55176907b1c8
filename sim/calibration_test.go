package sim

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
)

// Every shipped calibration loads, and every figure in it has a source;
// here and paper-2018 are among them, each with a name of its own and a
// speed for every kernel of the algorithms simulate knows.
func TestShippedCalibrations(t *testing.T) {
	if got := Shipped(); !slices.Contains(got, "here") || !slices.Contains(got, "paper-2018") {
		t.Fatalf("shipped calibrations %v, want here and paper-2018 among them", got)
	}
	for _, name := range Shipped() {
		c, err := LoadCalibration(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if c.Name != name {
			t.Errorf("calibration %s calls itself %q", name, c.Name)
		}
		for _, k := range []string{"chol", "trsm", "syrk", "gemm", "gemm_add", "qr_factor", "qr_leaf", "qr_trailing_update"} {
			if _, err := c.GFLOPS(k, 4096); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}

// A bad calibration is refused in one line that names the figure.
func TestBadCalibrations(t *testing.T) {
	good, err := os.ReadFile("testdata/flat.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ edit, old, new, want string }{
		{"missing", `"get_latency_s"`, `"get_latency_x"`, `unknown field "get_latency_x"`},
		{"missing figure", `"state": {`, `"state": {"x": 1, `, `unknown field "x"`},
		{"negative", `"put_mb_per_s": {
   "value": 40`, `"put_mb_per_s": {
   "value": -40`, "store.put_mb_per_s is -40: it must be a finite figure, not negative"},
		{"zero rate", `"requests_per_s": {
   "value": 1000000.0,
   "source": "test figure"
  }
 },
 "queue"`, `"requests_per_s": {
   "value": 0,
   "source": "test figure"
  }
 },
 "queue"`, "store.requests_per_s is 0: it must be positive"},
		{"no source", `"memory_mb": {
   "value": 3000,
   "source": "test figure"`, `"memory_mb": {
   "value": 3000,
   "source": " "`, "workers.memory_mb has no source"},
	} {
		data := strings.Replace(string(good), c.old, c.new, 1)
		if data == string(good) {
			t.Fatalf("%s: the edit does not apply", c.edit)
		}
		_, err := ParseCalibration([]byte(data), "calibration x.json")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "calibration x.json: ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line with %q", c.edit, err, c.want)
		}
	}
	// A figure left out entirely.
	data := strings.Replace(string(good), `"task_overhead_s"`, `"per_host"`, 1)
	if _, err := ParseCalibration([]byte(data), "f"); err == nil || !strings.Contains(err.Error(), "workers.task_overhead_s is missing") {
		t.Errorf("missing figure: %v", err)
	}
	// A host section needs its cores, and every figure of it.
	host := func(h string) string {
		return strings.TrimSuffix(strings.TrimSpace(string(good)), "}") + `, "host": ` + h + "}"
	}
	fig := func(v string) string { return `{"value": ` + v + `, "source": "test figure"}` }
	for h, want := range map[string]string{
		`{"cores": ` + fig("0") + `, "transfer_cores": ` + fig("1") + `, "queue_cores": ` + fig("1") + `, "state_cores": ` + fig("1") + `}`:  "host.cores is 0: it must be positive",
		`{"cores": ` + fig("2") + `, "transfer_cores": ` + fig("-1") + `, "queue_cores": ` + fig("1") + `, "state_cores": ` + fig("1") + `}`: "host.transfer_cores is -1",
		`{"cores": ` + fig("2") + `, "transfer_cores": ` + fig("1") + `, "queue_cores": ` + fig("1") + `}`:                                   "host.state_cores is missing",
	} {
		if _, err := ParseCalibration([]byte(host(h)), "f"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("host %s: %v, want %q", h, err, want)
		}
	}
	if _, err := ParseCalibration([]byte(host(`{"cores": `+fig("2")+`, "transfer_cores": `+fig("1")+`, "queue_cores": `+fig("1")+`, "state_cores": `+fig("1")+`}`)), "f"); err != nil {
		t.Errorf("a good host: %v", err)
	}
	if _, err := LoadCalibration("no-such"); err == nil || !strings.Contains(err.Error(), `no calibration "no-such"`) {
		t.Errorf("unknown name: %v", err)
	}
	c, err := LoadCalibration("testdata/flat.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GFLOPS("lu_pivots", 100); err == nil || !strings.Contains(err.Error(), "no speed for kernel lu_pivots") {
		t.Errorf("unknown kernel: %v", err)
	}
}

// Kernel speeds between two blocks follow a log scale; beyond them, the
// nearest.
func TestGFLOPSInterpolates(t *testing.T) {
	c := &Calibration{Name: "t", Kernels: []KernelSpeed{
		{Kernel: "gemm", Block: 1000, GFLOPS: &Figure{Value: 10}},
		{Kernel: "gemm", Block: 4000, GFLOPS: &Figure{Value: 30}},
	}}
	for _, b := range []struct {
		block int
		want  float64
	}{{500, 10}, {1000, 10}, {2000, 20}, {4000, 30}, {8000, 30}} {
		if got, _ := c.GFLOPS("gemm", b.block); got < b.want-1e-9 || got > b.want+1e-9 {
			t.Errorf("block %d: %g GFLOP/s, want %g", b.block, got, b.want)
		}
	}
}

func FuzzParseCalibration(f *testing.F) {
	good, err := os.ReadFile("testdata/flat.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"kernels": [{"kernel": "gemm", "block": 0}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCalibration(data, "fuzz")
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("a two-line error: %q", err)
			}
			return
		}
		for _, k := range c.Kernels {
			if g, err := c.GFLOPS(k.Kernel, k.Block); err != nil || !(g > 0) {
				t.Fatalf("an accepted calibration gives %g GFLOP/s for %s: %v", g, k.Kernel, err)
			}
		}
	})
}

// The executor's own time per task, measured on a real job of tiny
// tiles, is some microseconds: more than nothing, far less than a
// kernel on a real tile.
func TestMeasureTaskOverhead(t *testing.T) {
	f, err := measureTaskOverhead(context.Background(), func(s string) string { return s }, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if f.Value <= 0 || f.Value > 0.01 || !strings.Contains(f.Source, "19600 tasks") {
		t.Errorf("task overhead %v s (%s)", f.Value, f.Source)
	}
}
