// Package sim runs a job's schedule on virtual time: npw's own dependency
// analysis (analysis.Plan: children, parents, priorities) and scaling
// policy (provisioner.Policy), with the queue, the state store, the
// object store and the workers following an event model of the real
// protocol, their durations taken from a Calibration instead of computing
// and moving bytes. Thousands of workers and millions of tasks run in one
// goroutine, and the run ends as a real job's does, in a job.Result, so
// that its summary, cost, JSON and plots are a real run's.
//
// # The event model
//
// Time is a float of seconds; events run in time order (ties in the order
// they were scheduled). Every request to a service waits its turn at the
// service's throughput limit (requests_per_s, one request after another)
// and then takes its round trip. A tile transfer is a request to the
// store followed by its bytes through the worker's link (get_mb_per_s or
// put_mb_per_s, one transfer after another), the store's aggregate link
// and, with per_host, the link of the machine the worker shares.
//
//   - The provisioner samples the queue every Interval (one request) and
//     launches the workers provisioner.Policy asks for; a worker starts
//     after a start-up delay drawn from the calibration's log-normal
//     distribution (or --cold-start).
//   - A worker has Pipeline slots and one core. A slot receives (a long
//     poll of Poll: it returns at once with the first visible message, or
//     with the first one sent while it waits, or empty after Poll); with
//     the npw protocol a worker leases at most one task ahead of its core
//     (executor.takeTurn), with numpywren's every slot leases at once. A
//     worker that finds nothing with no task in flight for IdleTimeout
//     stops; one that could not finish another task before its runtime
//     limit (executor.timeLeft's rule) takes none, and one that reaches
//     the limit is killed.
//   - A leased task asks the state store whether it is done (a replay of
//     a done task completes its chain or acks it), reads its inputs, waits
//     for the core (by priority with npw, first come with numpywren),
//     computes for flops / the kernel's rate plus task_overhead_s, writes
//     its outputs and records its completion (one state request; with
//     numpywren one more per child, the paper's per-edge counters), which
//     makes the children whose last parent it was ready: they are sent to
//     the queue (npw: batches of ten; numpywren: one request each) and the
//     task's message is deleted (npw batches deletes: a tenth of a
//     request each).
//   - With npw, on a store of its own (not memory), a worker keeps the
//     tiles it read and wrote (its cache) and continues a task with the
//     child its completion makes ready that comes first by priority
//     (executor.nextTask): the child takes the core, with the parent's
//     outputs in memory, while the parent's outputs are written; the
//     message of the chain's first task stays leased until the chain ends.
//   - A leased message is renewed every Lease/3 while its worker lives
//     (one request each); when the worker dies it becomes visible again a
//     lease after its last renewal, and whoever receives it replays it.
//   - Workers also die at the calibration's failure rate, and a fraction
//     of them at KillAt (the failure experiment).
//
// With a calibration whose services share the workers' machine (its
// host: a local cloud), the cores are a processor-sharing server: a
// kernel demands a core, a tile transfer or a request to the queue or
// the state store the cores the machine was busy with while such ran
// alone, and when the demand exceeds the cores every piece of work slows
// alike. A receive's long wait for a message keeps no core busy.
//
// A kernel's flops and outputs' shapes and structure are learnt once per
// kind of call by running the real kernel on stand-in tiles (the prober);
// for blocks of 2048 and more, on the problem scaled down to tiles of
// 1024 and 512 a side, extrapolated to the job's block.
//
// What the model leaves out: the heartbeats (their requests are not
// counted), the queue's ordering beyond priority and arrival, memory
// pressure short of a task that cannot fit at all, and tiles lent between
// workers.
package sim

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/job"
	"github.com/npw-dev/npw/provisioner"
)

// Protocol selects what the workers do beyond the paper's protocol.
type Protocol int

const (
	// NPW is npw's protocol: continuations, tile caches, batched sends
	// and acks, priorities, one lease ahead.
	NPW Protocol = iota
	// Numpywren is the paper's: every task through the queue, first come
	// first served, no caches, one request per send, ack and edge.
	Numpywren
)

func (p Protocol) String() string {
	if p == Numpywren {
		return "numpywren"
	}
	return "npw"
}

// ParseProtocol reads "npw" or "numpywren".
func ParseProtocol(s string) (Protocol, error) {
	switch s {
	case "npw", "":
		return NPW, nil
	case "numpywren":
		return Numpywren, nil
	}
	return 0, fmt.Errorf("unknown protocol %q: want npw or numpywren", s)
}

// Config is one simulated job.
type Config struct {
	Plan *analysis.Plan
	// InputShape gives the shape of a tile no task writes: the job's
	// inputs.
	InputShape func(t analysis.Tile) (rows, cols int, err error)
	// Scaled, when set, gives the job's problem at tiles 1/f the size
	// (Problem.Scaled), on which big blocks' kernels are probed instead of
	// at full size (see prober); nil probes every kernel at full size.
	Scaled func(f int) *Problem
	Cal    *Calibration
	// Block is the job's tile size, at which kernel speeds are looked
	// up.
	Block    int
	Protocol Protocol
	Policy   provisioner.Policy
	// MemoryServices says the workers share npw's embedded services (the
	// memory store, queue and state store of one process): requests take
	// no time, and there are no continuations or caches, as there.
	MemoryServices bool
	// Packed puts the workers per_host to a machine whose link they
	// share (the calibration's per_host and host_mb_per_s): the paper's
	// emulated Lambda on EC2 instances.
	Packed bool

	Lease, Poll, IdleTimeout, Interval time.Duration // 0: the executor's and provisioner's defaults
	// RuntimeLimit and ColdStart, when not negative, replace the
	// calibration's runtime limit and start-up delay (a fixed one).
	RuntimeLimit, ColdStart time.Duration
	// KillFraction of the workers running at KillAt die then.
	KillFraction float64
	KillAt       time.Duration
	// Trace keeps every task's span for the plots.
	Trace bool
	Seed  uint64
	// LoopPriorities ranks the npw protocol's tasks by the loop formula,
	// as job.Options.LoopPriorities does; by default they are ranked by
	// critical path, up to MaxLevelCells. (numpywren's protocol takes
	// tasks first come, first served.)
	LoopPriorities bool
}

// MaxLevelCells bounds the table of levels the simulator ranks by: more
// than a job's client computes (job.MaxLevelCells), enough for the 1M
// Cholesky at block 4096.
const MaxLevelCells = 1 << 26

// An event is something that happens at a moment of virtual time.
type event struct {
	at  float64
	seq uint64
	fn  func()
}

type events []event

func (e events) Len() int { return len(e) }
func (e events) Less(i, j int) bool {
	if e[i].at != e[j].at {
		return e[i].at < e[j].at
	}
	return e[i].seq < e[j].seq
}
func (e events) Swap(i, j int) { e[i], e[j] = e[j], e[i] }
func (e *events) Push(x any)   { *e = append(*e, x.(event)) }
func (e *events) Pop() any {
	old := *e
	x := old[len(old)-1]
	*e = old[:len(old)-1]
	return x
}

// A server serves requests one after another at a rate.
type server struct {
	free, per float64
}

// serve returns when a request that arrives at now has been admitted.
func (s *server) serve(now float64) float64 {
	start := max(now, s.free)
	s.free = start + s.per
	return start
}

// A link carries bytes one transfer after another.
type link struct {
	free, bytesPerSec float64
}

func (l *link) send(now, bytes float64) float64 {
	if l == nil {
		return now
	}
	start := max(now, l.free)
	l.free = start + bytes/l.bytesPerSec
	return l.free
}

// A sim is one run.
type sim struct {
	cfg   Config
	cal   *Calibration
	rng   *rand.Rand
	epoch time.Time // virtual time 0

	now    float64
	seq    uint64
	events events

	queue          msgHeap
	inflight       int
	pollers        []*poller
	queueSrv       server
	stateSrv       server
	queueRTT       float64
	stateRTT       float64
	storeSrv       server
	storeLink      link
	hosts          map[int]*link
	lease, poll    float64
	idle, interval float64

	total     int64
	done      map[analysis.Node]bool
	remaining map[analysis.Node]int32
	claimed   map[analysis.Node]bool
	probes    *prober
	cpu       *cpu // the cores shared with the services; nil if they have their own
	// the cores a queue and a state request keep busy, with cpu
	queueCores, stateCores float64

	workers []*worker
	running int
	ended   bool
	endAt   float64
	err     error

	byStmt   map[uint16]int64 // tasks done per statement
	samples  []provisioner.Sample
	kills    []kill
	provReqs int64 // the provisioner's and client's queue requests
}

type kill struct {
	at     float64
	killed int
}

// A message is a task in the queue.
type message struct {
	node     analysis.Node
	prio     int
	seq      uint64
	holder   *worker
	leasedAt float64
	chain    []analysis.Node // the tasks continued from it, in order
}

type msgHeap struct {
	ms   []*message
	fifo bool
}

func (h msgHeap) Len() int { return len(h.ms) }
func (h msgHeap) Less(i, j int) bool {
	a, b := h.ms[i], h.ms[j]
	if !h.fifo && a.prio != b.prio {
		return a.prio > b.prio
	}
	return a.seq < b.seq
}
func (h msgHeap) Swap(i, j int) { h.ms[i], h.ms[j] = h.ms[j], h.ms[i] }
func (h *msgHeap) Push(x any)   { h.ms = append(h.ms, x.(*message)) }
func (h *msgHeap) Pop() any {
	old := h.ms
	m := old[len(old)-1]
	h.ms = old[:len(old)-1]
	return m
}

// A poller is a slot's receive waiting for a message.
type poller struct {
	w       *worker
	waiting bool
}

func (s *sim) at(t float64, fn func()) {
	s.seq++
	heap.Push(&s.events, event{at: t, seq: s.seq, fn: fn})
}

// Run simulates the job to its end and returns what a real run reports.
func Run(cfg Config) (*job.Result, error) {
	if cfg.Plan == nil || cfg.Cal == nil || cfg.InputShape == nil {
		return nil, errors.New("sim: a plan, a calibration and the input shapes are needed")
	}
	s, err := newSim(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	for len(s.events) > 0 && !s.ended && s.err == nil {
		s.step()
	}
	if s.err != nil {
		return nil, s.err
	}
	if !s.ended {
		return nil, fmt.Errorf("sim: the job stalled at %.1f s with %d of %d tasks done", s.now, len(s.done), s.total)
	}
	return s.outcome(), nil
}

// step runs the next event.
func (s *sim) step() {
	e := heap.Pop(&s.events).(event)
	s.now = e.at
	e.fn()
}

func seconds(d, def time.Duration) float64 {
	if d <= 0 {
		d = def
	}
	return d.Seconds()
}

func newSim(cfg Config) (*sim, error) {
	var err error
	if cfg.Plan, _, err = cfg.Plan.Ranked(cfg.Protocol == NPW && !cfg.LoopPriorities, MaxLevelCells); err != nil {
		return nil, err
	}
	cal := cfg.Cal
	s := &sim{cfg: cfg, cal: cal, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
		done: map[analysis.Node]bool{}, remaining: map[analysis.Node]int32{}, claimed: map[analysis.Node]bool{},
		hosts: map[int]*link{}, byStmt: map[uint16]int64{},
		epoch: time.Now().Truncate(time.Second)}
	s.queue.fifo = cfg.Protocol == Numpywren
	s.queueSrv.per = 1 / cal.Queue.RequestsPerSec.Value
	s.stateSrv.per = 1 / cal.State.RequestsPerSec.Value
	s.queueRTT, s.stateRTT = cal.Queue.RoundTrip.Value, cal.State.RoundTrip.Value
	if cfg.MemoryServices {
		s.queueSrv.per, s.stateSrv.per, s.queueRTT, s.stateRTT = 0, 0, 0, 0
	}
	s.storeSrv.per = 1 / cal.Store.RequestsPerSec.Value
	s.storeLink.bytesPerSec = cal.Store.AggregateMBps.Value * 1e6
	s.lease = seconds(cfg.Lease, 10*time.Second)
	s.poll = seconds(cfg.Poll, 250*time.Millisecond)
	s.idle = seconds(cfg.IdleTimeout, 10*time.Second)
	s.interval = seconds(cfg.Interval, 100*time.Millisecond)
	s.probes = newProber(cfg.Plan, cal, cfg.Block, cfg.InputShape)
	if cfg.Scaled != nil {
		s.probes.scaleDown(cfg.Scaled)
	}
	if cal.Host != nil && !cfg.MemoryServices && !cfg.Packed {
		s.cpu = &cpu{s: s, cores: cal.Host.Cores.Value}
		s.queueCores, s.stateCores = cal.Host.QueueCores.Value, cal.Host.StateCores.Value
	}
	if s.total, err = cfg.Plan.Count(); err != nil {
		return nil, err
	}
	if s.total == 0 {
		return nil, errors.New("sim: the program has no tasks")
	}
	return s, nil
}

func (s *sim) start() error {
	starters, err := s.cfg.Plan.Starters()
	if err != nil {
		return err
	}
	for _, n := range starters {
		s.send(n)
	}
	s.provReqs += int64((len(starters) + 9) / 10)
	s.at(0, s.provision)
	if s.cfg.KillFraction > 0 {
		s.at(s.cfg.KillAt.Seconds(), s.injectKill)
	}
	return nil
}

// send makes a task visible in the queue.
func (s *sim) send(n analysis.Node) {
	s.seq++
	s.deliver(&message{node: n, prio: s.cfg.Plan.Priority(n), seq: s.seq})
}

// deliver makes m visible: to the first slot waiting in a receive, or in
// the queue.
func (s *sim) deliver(m *message) {
	for len(s.pollers) > 0 {
		p := s.pollers[0]
		s.pollers = s.pollers[1:]
		if p.waiting && p.w.alive {
			p.waiting = false
			s.leased(p.w, m)
			return
		}
	}
	heap.Push(&s.queue, m)
}

// provision is one round of the provisioner.
func (s *sim) provision() {
	if s.ended {
		return
	}
	s.provReqs++
	pending := s.queue.Len() + s.inflight
	n := s.cfg.Policy.Launch(pending, s.running)
	for range n {
		s.launch()
	}
	s.samples = append(s.samples, provisioner.Sample{At: dur(s.now), Pending: s.queue.Len(), InFlight: s.inflight, Running: s.running, Launched: n})
	s.at(s.now+s.interval, s.provision)
}

func dur(sec float64) time.Duration { return time.Duration(sec * float64(time.Second)) }

// time is the wall-clock time of virtual moment sec.
func (s *sim) time(sec float64) time.Time { return s.epoch.Add(dur(sec)) }

// startDelay draws a worker's start-up delay.
func (s *sim) startDelay() float64 {
	if s.cfg.ColdStart >= 0 {
		return s.cfg.ColdStart.Seconds()
	}
	med, p90 := s.cal.Workers.StartMedian.Value, s.cal.Workers.StartP90.Value
	if med <= 0 {
		return 0
	}
	sigma := math.Log(p90/med) / 1.2815515655446004
	return med * math.Exp(sigma*s.rng.NormFloat64())
}

func (s *sim) runtimeLimit() float64 {
	if s.cfg.RuntimeLimit >= 0 {
		return s.cfg.RuntimeLimit.Seconds()
	}
	return s.cal.Workers.RuntimeLimit.Value
}

func (s *sim) injectKill() {
	var alive []*worker
	for _, w := range s.workers {
		if w.alive {
			alive = append(alive, w)
		}
	}
	n := int(math.Round(s.cfg.KillFraction * float64(len(alive))))
	s.rng.Shuffle(len(alive), func(i, j int) { alive[i], alive[j] = alive[j], alive[i] })
	for _, w := range alive[:n] {
		s.die(w, "killed (fault injection)")
	}
	s.kills = append(s.kills, kill{at: s.now, killed: n})
}
