package executor

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Settings say how a worker works. They are set once, by the Go API's
// npw.Options, a job's job.Options or the command line, and travel
// unchanged to every worker: in Config to a goroutine, in Remote to a
// process or a Lambda function. A zero field takes its default, which is
// set here and nowhere else.
type Settings struct {
	Pipeline     int           `json:"pipeline,omitempty"`      // tasks in flight (default 2)
	Lease        time.Duration `json:"lease,omitempty"`         // a task's lease, renewed every third of it (default 10s, the paper's)
	Poll         time.Duration `json:"poll,omitempty"`          // how long one receive waits for a task (default 250ms)
	IdleTimeout  time.Duration `json:"idle_timeout,omitempty"`  // stop after this long without a task (default 10s)
	RuntimeLimit time.Duration `json:"runtime_limit,omitempty"` // the worker's lifetime; 0 is unlimited
	MaxAttempts  int           `json:"max_attempts,omitempty"`  // failed reads or writes of one task that fail the job (default 3)
	MaxReceives  int           `json:"max_receives,omitempty"`  // deliveries of one task that fail the job (default 10)
	// Memory bounds the bytes of tiles the worker's tasks hold at once
	// (inputs and outputs, each counted as a full tile): a task reads
	// only when its tiles fit next to those of the tasks in flight, or
	// when none is in flight. Tiles bigger than the block (stacked
	// panels) take more; Report.PeakReserved counts them. 0 is no bound for a goroutine worker, and
	// for a remote one (Serve) (pipeline × 3 + 2) full tiles of its job,
	// what a task of three tiles per pipeline slot needs.
	Memory int64 `json:"memory,omitempty"`
	// AllowNonFinite lets kernels compute NaN and infinite values: by
	// default a task whose outputs hold one fails the job, naming the
	// value and where it is (the same inputs give the same values).
	AllowNonFinite bool `json:"allow_nonfinite,omitempty"`
	// Trace keeps the span of every task the worker completes first in
	// Report.Spans.
	Trace bool `json:"trace,omitempty"`
	// EmulateGFLOPS, when positive, makes every kernel wait the time its
	// flops take at this rate instead of computing, and write zero tiles
	// of the shapes it would: the real protocol, services and tile
	// traffic with compute that costs no core, so that many more workers
	// than cores can run (the paper's scaling experiments on a laptop).
	// The job's numbers are meaningless; npw never verifies or saves them.
	EmulateGFLOPS float64 `json:"emulate_gflops,omitempty"`
}

// Default settings.
const (
	DefaultPipeline    = 2
	DefaultLease       = 10 * time.Second
	DefaultPoll        = 250 * time.Millisecond
	DefaultIdleTimeout = 10 * time.Second
	DefaultMaxAttempts = 3
	DefaultMaxReceives = 10
)

// WithDefaults returns s with every zero field set to its default.
func (s Settings) WithDefaults() Settings {
	set := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if s.Pipeline == 0 {
		s.Pipeline = DefaultPipeline
	}
	set(&s.Lease, DefaultLease)
	set(&s.Poll, DefaultPoll)
	set(&s.IdleTimeout, DefaultIdleTimeout)
	if s.MaxAttempts == 0 {
		s.MaxAttempts = DefaultMaxAttempts
	}
	if s.MaxReceives == 0 {
		s.MaxReceives = DefaultMaxReceives
	}
	return s
}

// Check reports settings no worker can work with: negative counts or
// durations, and a runtime limit too short for a worker to wait for a
// task and run it (its workers would retire before their first lease).
func (s Settings) Check() error {
	s = s.WithDefaults()
	for _, v := range []struct {
		name string
		neg  bool
	}{
		{"pipeline", s.Pipeline < 0}, {"lease", s.Lease < 0}, {"poll", s.Poll < 0},
		{"idle timeout", s.IdleTimeout < 0}, {"runtime limit", s.RuntimeLimit < 0},
		{"max attempts", s.MaxAttempts < 0}, {"max receives", s.MaxReceives < 0}, {"memory", s.Memory < 0},
		{"emulated GFLOP/s", s.EmulateGFLOPS < 0 || math.IsNaN(s.EmulateGFLOPS) || math.IsInf(s.EmulateGFLOPS, 0)},
	} {
		if v.neg {
			return fmt.Errorf("the worker's %s must not be negative", v.name)
		}
	}
	if s.Lease < 3*time.Millisecond {
		return errors.New("the lease must be at least 3ms: it is renewed every third of it")
	}
	if s.RuntimeLimit > 0 && s.RuntimeLimit <= 2*s.Poll {
		return fmt.Errorf("the runtime limit %v is too short: a worker waits up to %v (the poll) for a task, so it needs more than %v to lease one and run it",
			s.RuntimeLimit, s.Poll, 2*s.Poll)
	}
	return nil
}
