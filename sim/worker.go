package sim

import (
	"cmp"
	"container/heap"
	"maps"
	"math"
	"slices"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/state"
)

// A worker is one simulated function.
type worker struct {
	id                         int
	launched, started, stopped float64
	deadline                   float64 // runtime limit; 0 is none
	alive, gone                bool

	slots   int // slots not leasing and holding no task
	leasing int // slots in a receive
	turn    bool
	tasks   int // tasks held, leased or continued
	core    *task
	coreQ   taskHeap
	cache   map[analysis.Tile]bool
	getLink link
	putLink link
	host    *link

	startAt  float64 // when its start-up delay ends
	held     map[*message]bool
	acks     int
	lastBusy float64
	longest  float64
	reason   string
	rep      executor.Report
	reqs     executor.Requests
	m        state.Metrics
}

// A task is a task being processed by a worker.
type task struct {
	node     analysis.Node
	msg      *message
	w        *worker
	prio     int
	seq      uint64
	turn     bool // holds the worker's lease turn
	reserved bool // the core is kept for it (a continuation)
	next     *task
	children []analysis.Node
	handed   map[analysis.Tile]bool
	reads    []analysis.Tile
	writes   []analysis.Tile
	p        *probe
	span     executor.Span
	t0       float64
}

type taskHeap struct {
	ts   []*task
	fifo bool
}

func (h taskHeap) Len() int { return len(h.ts) }
func (h taskHeap) Less(i, j int) bool {
	a, b := h.ts[i], h.ts[j]
	if !h.fifo && a.prio != b.prio {
		return a.prio > b.prio
	}
	return a.seq < b.seq
}
func (h taskHeap) Swap(i, j int) { h.ts[i], h.ts[j] = h.ts[j], h.ts[i] }
func (h *taskHeap) Push(x any)   { h.ts = append(h.ts, x.(*task)) }
func (h *taskHeap) Pop() any {
	old := h.ts
	t := old[len(old)-1]
	h.ts = old[:len(old)-1]
	return t
}

func (s *sim) launch() {
	w := &worker{id: len(s.workers) + 1, launched: s.now, slots: max(s.cfg.Policy.Pipeline, 1), held: map[*message]bool{}}
	w.coreQ.fifo = s.cfg.Protocol == Numpywren
	w.getLink.bytesPerSec = s.cal.Store.GetMBps.Value * 1e6
	w.putLink.bytesPerSec = s.cal.Store.PutMBps.Value * 1e6
	if ph := s.cal.Workers.PerHost; ph != nil && s.cfg.Packed {
		h := (w.id - 1) / max(int(ph.Value), 1)
		if s.hosts[h] == nil {
			s.hosts[h] = &link{bytesPerSec: s.cal.Workers.HostMBps.Value * 1e6}
		}
		w.host = s.hosts[h]
	}
	if s.cfg.Protocol == NPW && !s.cfg.MemoryServices {
		w.cache = map[analysis.Tile]bool{}
	}
	s.workers = append(s.workers, w)
	s.running++
	w.startAt = s.now + s.startDelay()
	s.at(w.startAt, func() { s.begin(w) })
}

// begin starts a worker once its start-up delay has passed.
func (s *sim) begin(w *worker) {
	if s.ended {
		s.stop(w, "job done")
		return
	}
	w.alive, w.started, w.lastBusy = true, s.now, s.now
	if limit := s.runtimeLimit(); limit > 0 {
		w.deadline = s.now + limit
		s.at(w.deadline, func() {
			if w.alive {
				s.die(w, "killed at the runtime limit")
			}
		})
	}
	if r := s.cal.Workers.FailuresPerHour.Value; r > 0 {
		s.at(s.now+s.rng.ExpFloat64()*3600/r, func() {
			if w.alive {
				s.die(w, "failed")
			}
		})
	}
	s.fill(w)
}

// fill starts receives on the worker's free slots, as its rules allow.
func (s *sim) fill(w *worker) {
	for w.alive && w.slots > 0 {
		if s.cfg.Protocol == NPW && w.turn {
			return // one lease ahead: wait for the turn
		}
		if !s.timeLeft(w) {
			if w.tasks == 0 && w.leasing == 0 {
				s.stop(w, "runtime limit near")
			}
			return
		}
		w.slots--
		w.leasing++
		if s.cfg.Protocol == NPW {
			w.turn = true
		}
		w.reqs.Queue++
		t := s.queueSrv.serve(s.now) + s.queueRTT
		s.answered(t, s.queueCores, func() { s.receive(w) })
	}
}

// timeLeft is executor.timeLeft: a task leased now can finish before the
// runtime limit, waiting behind the tasks in flight.
func (s *sim) timeLeft(w *worker) bool {
	if w.deadline == 0 {
		return true
	}
	need := w.longest * float64(w.tasks+1) * 3 / 2
	return w.deadline-s.now > need+s.poll
}

// receive is a slot's receive reaching the queue.
func (s *sim) receive(w *worker) {
	if !w.alive {
		return
	}
	if s.queue.Len() > 0 {
		s.leased(w, heap.Pop(&s.queue).(*message))
		return
	}
	p := &poller{w: w, waiting: true}
	s.pollers = append(s.pollers, p)
	s.at(s.now+s.poll, func() {
		if !p.waiting || !w.alive {
			return
		}
		p.waiting = false
		s.empty(w)
	})
}

// empty is a receive that found nothing.
func (s *sim) empty(w *worker) {
	w.leasing--
	w.slots++
	w.turn = false // another slot may lease
	if w.tasks == 0 && w.leasing == 0 && s.now-w.lastBusy >= s.idle {
		s.stop(w, "idle")
		return
	}
	s.fill(w)
}

// leased hands message m to a receive of w.
func (s *sim) leased(w *worker, m *message) {
	w.leasing--
	w.tasks++
	w.lastBusy = s.now
	m.holder, m.leasedAt = w, s.now
	w.held[m] = true
	s.inflight++
	t := &task{node: m.node, msg: m, w: w, turn: s.cfg.Protocol == NPW}
	// Is it done? A replay follows the chain the message started.
	w.reqs.State++
	at := s.stateSrv.serve(s.now) + s.stateRTT
	s.answered(at, s.stateCores, func() {
		if !w.alive {
			return
		}
		chain := append([]analysis.Node{m.node}, m.chain...)
		for _, n := range chain {
			if !s.done[n] {
				t.node = n
				s.startTask(t)
				return
			}
		}
		t.releaseTurn(s)
		w.tasks--
		s.ack(w, m) // done: its holder died before deleting it
	})
}

func (t *task) releaseTurn(s *sim) {
	if t.turn {
		t.turn = false
		t.w.turn = false
		s.fill(t.w)
	}
}

// startTask reads the task's inputs.
func (s *sim) startTask(t *task) {
	w := t.w
	var err error
	t.reads, t.writes, err = s.cfg.Plan.Tiles(t.node)
	if err != nil {
		s.fail(err)
		return
	}
	t.prio = s.cfg.Plan.Priority(t.node)
	s.seq++
	t.seq = s.seq
	t.t0 = s.now
	t.span = executor.Span{Task: t.node.Key(), Leased: s.time(s.now)}
	if t.p, err = s.probes.get(t.node, t.reads); err != nil {
		s.fail(err)
		return
	}
	end := s.now
	for i, tile := range t.reads {
		if t.handed[tile] || w.cache[tile] {
			w.m.CacheHits++
			continue
		}
		b := bytesOf(s.probes.dims(t.p.in[i]))
		end = max(end, s.transfer(w, b, false))
		w.m.BytesRead += int64(b)
	}
	s.moved(end, func() {
		if !w.alive {
			return
		}
		t.span.Read = s.time(s.now)
		w.m.ReadSeconds += s.now - t.t0
		for _, tile := range t.reads {
			if w.cache != nil {
				w.cache[tile] = true
			}
		}
		if t.reserved {
			s.compute(t)
			return
		}
		heap.Push(&w.coreQ, t)
		s.nextOnCore(w)
	})
}

// transfer moves b bytes between w and the store, returning when done.
func (s *sim) transfer(w *worker, b float64, put bool) float64 {
	lat, l := s.cal.Store.GetLatency.Value, &w.getLink
	if put {
		lat, l = s.cal.Store.PutLatency.Value, &w.putLink
		w.reqs.TilePutClass++
	} else {
		w.reqs.TileGetClass++
	}
	w.reqs.Tiles++
	if s.cfg.MemoryServices {
		return s.now
	}
	start := s.storeSrv.serve(s.now) + lat
	return max(l.send(start, b), s.storeLink.send(start, b), w.host.send(start, b))
}

// moved calls fn when tile transfers that would end at end on an idle
// machine are done: then, or later on a machine whose cores the
// services share with busy workers (Calibration.Host).
func (s *sim) moved(end float64, fn func()) {
	if s.cpu == nil {
		s.at(end, fn)
		return
	}
	s.answered(end, s.cal.Host.TransferCores.Value, fn)
}

// answered calls fn when a request to a service that would be answered
// at end on an idle machine is answered, as moved does for transfers:
// the request keeps cores busy while it waits for its answer.
func (s *sim) answered(end, cores float64, fn func()) {
	if s.cpu == nil || end <= s.now {
		s.at(end, fn)
		return
	}
	s.cpu.run(end-s.now, cores, fn)
}

// computed calls fn when a kernel of d seconds on a core of its own is
// done.
func (s *sim) computed(d float64, fn func()) {
	if s.cpu == nil {
		s.at(s.now+d, fn)
		return
	}
	s.cpu.run(d, 1, fn)
}

// nextOnCore gives the free core to the waiting task that comes first.
func (s *sim) nextOnCore(w *worker) {
	if w.core != nil || w.coreQ.Len() == 0 {
		return
	}
	t := heap.Pop(&w.coreQ).(*task)
	w.core = t
	s.compute(t)
}

// compute runs t's kernel on the worker's core, then picks the task to
// continue with, which keeps the core unless a waiting task comes first,
// and writes t's outputs.
func (s *sim) compute(t *task) {
	w := t.w
	t.releaseTurn(s)
	d := t.p.flops/(t.p.gflops*1e9) + s.cal.Workers.TaskOverhead.Value
	start := s.now
	s.computed(d, func() {
		if !w.alive {
			return
		}
		t.span.Computed = s.time(s.now)
		t.span.Flops = t.p.flops
		w.m.ComputeSeconds += s.now - start
		w.m.Flops += t.p.flops
		w.core = nil
		s.probes.wrote(t.writes, t.p)
		t.next = s.continuation(t)
		if next := t.next; next != nil {
			if w.coreQ.Len() == 0 || w.coreQ.ts[0].prio <= next.prio {
				next.reserved = true
				w.core = next
			}
			s.startTask(next)
		}
		s.nextOnCore(w)
		s.write(t)
	})
}

// continuation picks the child t's completion makes ready that comes
// first, for t's worker to run next with t's outputs in memory
// (executor.nextTask).
func (s *sim) continuation(t *task) *task {
	w := t.w
	if s.cfg.Protocol != NPW || s.cfg.MemoryServices || !s.timeLeft(w) {
		return nil
	}
	children, err := s.childrenOf(t)
	if err != nil {
		s.fail(err)
		return nil
	}
	w.reqs.State++ // ReadyAfter
	var best analysis.Node
	found := false
	for _, c := range children {
		left, err := s.left(c)
		if err != nil {
			s.fail(err)
			return nil
		}
		if left == 1 && !s.claimed[c] && (!found || s.cfg.Plan.Priority(c) > s.cfg.Plan.Priority(best)) {
			best, found = c, true
		}
	}
	if !found {
		return nil
	}
	next := &task{node: best, msg: t.msg, w: w, handed: map[analysis.Tile]bool{}}
	for _, tile := range t.writes {
		next.handed[tile] = true
	}
	w.tasks++
	return next
}

// left is the number of c's parents not yet done.
func (s *sim) left(c analysis.Node) (int32, error) {
	if n, ok := s.remaining[c]; ok {
		return n, nil
	}
	d, err := s.cfg.Plan.Indegree(c)
	if err != nil {
		return 0, err
	}
	s.remaining[c] = int32(d)
	return int32(d), nil
}

// childrenOf returns t's children, found once.
func (s *sim) childrenOf(t *task) ([]analysis.Node, error) {
	if t.children == nil {
		c, err := s.cfg.Plan.Children(t.node, nil)
		if err != nil {
			return nil, err
		}
		t.children = append(c, analysis.Node{})[:len(c)] // not nil
	}
	return t.children, nil
}

// write writes t's outputs and records its completion.
func (s *sim) write(t *task) {
	w := t.w
	end, start := s.now, s.now
	for i, tile := range t.writes {
		b := bytesOf(s.probes.dims(t.p.out[i]))
		end = max(end, s.transfer(w, b, true))
		w.m.BytesWritten += int64(b)
		if w.cache != nil {
			w.cache[tile] = true
		}
	}
	s.moved(end, func() {
		if !w.alive {
			return
		}
		t.span.Written = s.time(s.now)
		w.m.WriteSeconds += s.now - start
		children, err := s.childrenOf(t)
		if err != nil {
			s.fail(err)
			return
		}
		reqs := 1
		if s.cfg.Protocol == Numpywren {
			reqs += len(children) // the paper's per-edge counters
		}
		w.reqs.State += int64(reqs)
		var at float64
		for range reqs {
			at = s.stateSrv.serve(s.now) + s.stateRTT
		}
		s.answered(at, s.stateCores, func() {
			if w.alive {
				s.complete(t)
			}
		})
	})
}

// complete records t done, sends the children it made ready and, at the
// end of its chain, deletes its message.
func (s *sim) complete(t *task) {
	w := t.w
	if !s.done[t.node] {
		s.done[t.node] = true
		if t.next != nil {
			// The completion records the task continued with: a replay
			// of the message follows it, and it is not sent.
			s.claimed[t.next.node] = true
			t.msg.chain = append(t.msg.chain, t.next.node)
		}
		ready := 0
		for _, c := range t.children {
			left, err := s.left(c)
			if err != nil {
				s.fail(err)
				return
			}
			if left--; left > 0 {
				s.remaining[c] = left
				continue
			}
			delete(s.remaining, c)
			if !s.claimed[c] {
				s.send(c)
				ready++
			}
		}
		if s.cfg.Protocol == Numpywren {
			w.reqs.Queue += int64(ready)
		} else {
			w.reqs.Queue += int64((ready + 9) / 10)
		}
		t.span.Done = s.time(s.now)
		s.byStmt[t.node.Stmt]++
		w.rep.Tasks++
		if t.node != t.msg.node {
			w.rep.Continued++
		}
		if s.cfg.Trace {
			w.rep.Spans = append(w.rep.Spans, t.span)
		}
	} else {
		w.rep.Replays++
	}
	w.longest = max(w.longest, s.now-t.t0)
	w.lastBusy = s.now
	w.tasks--
	if int64(len(s.done)) == s.total {
		s.end()
		return
	}
	if t.next != nil {
		return // the chain goes on under the message
	}
	s.ack(w, t.msg)
}

// ack deletes a message (npw deletes in batches of ten), counts its
// lease's renewals, and frees its slot.
func (s *sim) ack(w *worker, m *message) {
	if s.cfg.Protocol == Numpywren || w.acks%10 == 0 {
		w.reqs.Queue++
	}
	w.acks++
	w.reqs.Queue += int64(math.Floor((s.now - m.leasedAt) / (s.lease / 3)))
	if m.holder == w {
		m.holder = nil
		s.inflight--
	}
	delete(w.held, m)
	w.slots++
	s.fill(w)
}

// stop ends a worker that stops on its own.
func (s *sim) stop(w *worker, reason string) {
	if w.gone {
		return
	}
	w.alive, w.gone = false, true
	w.stopped, w.reason = s.now, reason
	s.running--
}

// die ends a worker that is killed: the messages it holds become visible
// a lease after their last renewal.
func (s *sim) die(w *worker, reason string) {
	s.stop(w, reason)
	third := s.lease / 3
	// In the order the messages were sent, not the map's: events at one
	// time run in the order they were scheduled, and the run must not
	// depend on Go's random map order (it moved a 256K Cholesky at sf 4
	// between 1,257 and 1,261 s from one run to the next).
	held := slices.SortedFunc(maps.Keys(w.held), func(a, b *message) int { return cmp.Compare(a.seq, b.seq) })
	for _, m := range held {
		renewed := m.leasedAt + math.Floor((s.now-m.leasedAt)/third)*third
		w.reqs.Queue += int64(math.Floor((s.now - m.leasedAt) / third))
		s.at(max(renewed+s.lease, s.now), func() {
			if m.holder == w {
				m.holder = nil
				s.inflight--
				s.deliver(m)
			}
		})
	}
	w.held = nil
}

// end is the job's end: every worker sees it and stops.
func (s *sim) end() {
	s.ended, s.endAt = true, s.now
	for _, w := range s.workers {
		if !w.gone && w.alive {
			s.stop(w, "job done")
		}
	}
}

func (s *sim) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}
