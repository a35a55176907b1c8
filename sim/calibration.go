package sim

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// A Figure is one number of a calibration and where it comes from: a
// measurement (the command and the date) or a citation (the paper's
// text, a public AWS figure). A figure without a source is refused.
type Figure struct {
	Value  float64 `json:"value"`
	Source string  `json:"source"`
}

// A KernelSpeed is the rate one kernel computes at on tiles of one size,
// on one core.
type KernelSpeed struct {
	Kernel string  `json:"kernel"`
	Block  int     `json:"block"`
	GFLOPS *Figure `json:"gflops"`
}

// A Service is a queue or a state store: the round trip of one request
// and the requests per second it serves in all.
type Service struct {
	RoundTrip      *Figure `json:"round_trip_s"`
	RequestsPerSec *Figure `json:"requests_per_s"`
}

// Store is the object store as the workers see it.
type Store struct {
	GetLatency *Figure `json:"get_latency_s"`
	PutLatency *Figure `json:"put_latency_s"`
	// GetMBps and PutMBps are one worker's bandwidth to the store.
	GetMBps *Figure `json:"get_mb_per_s"`
	PutMBps *Figure `json:"put_mb_per_s"`
	// AggregateMBps and RequestsPerSec are the store's limits over all
	// workers.
	AggregateMBps  *Figure `json:"aggregate_mb_per_s"`
	RequestsPerSec *Figure `json:"requests_per_s"`
}

// Workers describes the functions the workers run in.
type Workers struct {
	// StartMedian and StartP90 give the start-up delay, from the launch
	// to the first request, as a log-normal distribution.
	StartMedian *Figure `json:"start_median_s"`
	StartP90    *Figure `json:"start_p90_s"`
	// RuntimeLimit is the function's lifetime; 0 is unlimited.
	RuntimeLimit *Figure `json:"runtime_limit_s"`
	// FailuresPerHour is the rate at which a running worker dies on its
	// own (a Poisson process); 0 is never.
	FailuresPerHour *Figure `json:"failures_per_hour"`
	// MemoryMB is a worker's memory: a task whose tiles exceed it
	// cannot run.
	MemoryMB *Figure `json:"memory_mb"`
	// TaskOverhead is a task's fixed cost on the worker besides its
	// requests and its kernel (deserialising, dispatch).
	TaskOverhead *Figure `json:"task_overhead_s"`
	// PerHost and HostMBps, when set, are the machines workers share
	// when packed (Config.Packed): PerHost to a machine whose network
	// link carries HostMBps in all (the paper's emulated Lambda on EC2
	// instances).
	PerHost  *Figure `json:"per_host,omitempty"`
	HostMBps *Figure `json:"host_mb_per_s,omitempty"`
}

// Host, when a calibration has it, says the services run on the
// workers' machine and share its cores (a local cloud on one machine):
// the workers' kernels and tile transfers and the services' work divide
// Cores between them.
type Host struct {
	Cores *Figure `json:"cores"`
	// TransferCores is the cores the machine keeps busy (the worker's
	// client and the store's server together) while one worker moves a
	// tile and nothing else runs.
	TransferCores *Figure `json:"transfer_cores"`
	// QueueCores and StateCores are the cores the machine keeps busy
	// while one worker makes requests to the queue, or to the state
	// store, one after another.
	QueueCores *Figure `json:"queue_cores"`
	StateCores *Figure `json:"state_cores"`
}

// A Calibration is what the simulator knows of a platform: kernel speeds,
// the services' latencies, bandwidths and limits, and the workers'
// start-up, lifetime and failures. Every figure carries its source.
type Calibration struct {
	Name    string        `json:"name"`
	About   string        `json:"about"`
	Kernels []KernelSpeed `json:"kernels"`
	Store   Store         `json:"store"`
	Queue   Service       `json:"queue"`
	State   Service       `json:"state"`
	Workers Workers       `json:"workers"`
	Host    *Host         `json:"host,omitempty"`

	probing bool // every kernel at 1 GFLOP/s (probingCalibration)
}

//go:embed calibrations
var shipped embed.FS

// Shipped lists the names of the calibrations npw carries.
func Shipped() []string {
	entries, _ := shipped.ReadDir("calibrations")
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			names = append(names, name)
		}
	}
	return names
}

// LoadCalibration returns the shipped calibration of that name or, when
// nameOrFile names a file (it has a slash or ends in .json), the
// calibration in the file. Every figure is checked before it returns.
func LoadCalibration(nameOrFile string) (*Calibration, error) {
	var data []byte
	var err error
	where := nameOrFile
	if strings.ContainsRune(nameOrFile, os.PathSeparator) || strings.HasSuffix(nameOrFile, ".json") {
		data, err = os.ReadFile(nameOrFile)
		if err != nil {
			return nil, fmt.Errorf("calibration %s: %w", nameOrFile, err)
		}
	} else {
		data, err = shipped.ReadFile(filepath.Join("calibrations", nameOrFile+".json"))
		if err != nil {
			return nil, fmt.Errorf("no calibration %q: give a file (FILE.json) or one of the shipped: %s", nameOrFile, strings.Join(Shipped(), ", "))
		}
		where = "calibration " + nameOrFile
	}
	return ParseCalibration(data, where)
}

// ParseCalibration decodes and checks a calibration; where names it in
// errors.
func ParseCalibration(data []byte, where string) (*Calibration, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Calibration
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return &c, nil
}

// check refuses a missing figure, a figure without a source, a negative
// or non-finite one, and a zero where a rate or a size must be positive.
func (c *Calibration) check() error {
	type need struct {
		name     string
		f        *Figure
		positive bool
		optional bool
	}
	needs := []need{
		{"store.get_latency_s", c.Store.GetLatency, false, false},
		{"store.put_latency_s", c.Store.PutLatency, false, false},
		{"store.get_mb_per_s", c.Store.GetMBps, true, false},
		{"store.put_mb_per_s", c.Store.PutMBps, true, false},
		{"store.aggregate_mb_per_s", c.Store.AggregateMBps, true, false},
		{"store.requests_per_s", c.Store.RequestsPerSec, true, false},
		{"queue.round_trip_s", c.Queue.RoundTrip, false, false},
		{"queue.requests_per_s", c.Queue.RequestsPerSec, true, false},
		{"state.round_trip_s", c.State.RoundTrip, false, false},
		{"state.requests_per_s", c.State.RequestsPerSec, true, false},
		{"workers.start_median_s", c.Workers.StartMedian, false, false},
		{"workers.start_p90_s", c.Workers.StartP90, false, false},
		{"workers.runtime_limit_s", c.Workers.RuntimeLimit, false, false},
		{"workers.failures_per_hour", c.Workers.FailuresPerHour, false, false},
		{"workers.memory_mb", c.Workers.MemoryMB, true, false},
		{"workers.task_overhead_s", c.Workers.TaskOverhead, false, false},
		{"workers.per_host", c.Workers.PerHost, true, true},
		{"workers.host_mb_per_s", c.Workers.HostMBps, true, true},
	}
	if c.Host != nil {
		needs = append(needs, need{"host.cores", c.Host.Cores, true, false}, need{"host.transfer_cores", c.Host.TransferCores, false, false},
			need{"host.queue_cores", c.Host.QueueCores, false, false}, need{"host.state_cores", c.Host.StateCores, false, false})
	}
	if len(c.Kernels) == 0 {
		return fmt.Errorf("kernels is missing: a calibration gives the speed of every kernel")
	}
	for i, k := range c.Kernels {
		if k.Kernel == "" || k.Block <= 0 {
			return fmt.Errorf("kernels[%d] needs a kernel name and a positive block, got %q and %d", i, k.Kernel, k.Block)
		}
		needs = append(needs, need{fmt.Sprintf("kernels[%d] (%s at block %d).gflops", i, k.Kernel, k.Block), k.GFLOPS, true, false})
	}
	for _, n := range needs {
		switch {
		case n.f == nil && n.optional:
		case n.f == nil:
			return fmt.Errorf("%s is missing", n.name)
		case math.IsNaN(n.f.Value) || math.IsInf(n.f.Value, 0) || n.f.Value < 0:
			return fmt.Errorf("%s is %v: it must be a finite figure, not negative", n.name, n.f.Value)
		case n.positive && n.f.Value == 0:
			return fmt.Errorf("%s is 0: it must be positive", n.name)
		case strings.TrimSpace(n.f.Source) == "":
			return fmt.Errorf("%s has no source: say where the figure comes from", n.name)
		}
	}
	if c.Workers.StartP90.Value < c.Workers.StartMedian.Value {
		return fmt.Errorf("workers.start_p90_s (%v) is below workers.start_median_s (%v)", c.Workers.StartP90.Value, c.Workers.StartMedian.Value)
	}
	if (c.Workers.PerHost == nil) != (c.Workers.HostMBps == nil) {
		return fmt.Errorf("workers.per_host and workers.host_mb_per_s go together")
	}
	seen := map[[2]any]bool{}
	for _, k := range c.Kernels {
		key := [2]any{k.Kernel, k.Block}
		if seen[key] {
			return fmt.Errorf("kernel %s at block %d is given twice", k.Kernel, k.Block)
		}
		seen[key] = true
	}
	return nil
}

// GFLOPS is the rate of kernel on tiles of the given size: the figure at
// that block, or interpolated between the nearest blocks on a log scale,
// or the nearest block's beyond them. It fails for a kernel the
// calibration does not know.
func (c *Calibration) GFLOPS(kernel string, block int) (float64, error) {
	if c.probing {
		return 1, nil
	}
	var pts []KernelSpeed
	for _, k := range c.Kernels {
		if k.Kernel == kernel {
			pts = append(pts, k)
		}
	}
	if len(pts) == 0 {
		return 0, fmt.Errorf("calibration %s has no speed for kernel %s (it knows %s)", c.Name, kernel, strings.Join(c.kernelNames(), ", "))
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].Block < pts[j].Block })
	if block <= pts[0].Block {
		return pts[0].GFLOPS.Value, nil
	}
	for i := 1; i < len(pts); i++ {
		if block <= pts[i].Block {
			a, b := pts[i-1], pts[i]
			t := math.Log(float64(block)/float64(a.Block)) / math.Log(float64(b.Block)/float64(a.Block))
			return a.GFLOPS.Value + t*(b.GFLOPS.Value-a.GFLOPS.Value), nil
		}
	}
	return pts[len(pts)-1].GFLOPS.Value, nil
}

func (c *Calibration) kernelNames() []string {
	var names []string
	for _, k := range c.Kernels {
		if !slices.Contains(names, k.Kernel) {
			names = append(names, k.Kernel)
		}
	}
	return names
}
