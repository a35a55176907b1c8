package executor

import (
	"slices"
	"sync"
)

// A computeSlot lets one task at a time run its kernel (a worker computes
// on one core, like a one-core Lambda); tasks waiting for it get it in
// the plan's priority order, higher first, and in arrival order on ties.
// The tasks of a pipeline read in the order they were leased, but when
// two wait to compute, the one nearer the critical path goes first, so
// that the next panel's factorisation does not wait behind a later update.
type computeSlot struct {
	mu      sync.Mutex
	busy    bool
	kept    *reservation // the slot is busy, kept for the task it names
	waiting []slotWaiter
}

// A reservation keeps the slot, as its holder lets it go, for the task
// that holder runs next: a continuation, whose tiles are in memory and
// which is on the critical path, should not wait for a task of lower
// priority that took the slot in between.
type reservation struct{ priority int }

type slotWaiter struct {
	priority int
	ready    chan struct{}
}

// acquire waits until the slot is the caller's. A slot kept for a task of
// lower priority is the caller's at once.
func (s *computeSlot) acquire(priority int) {
	s.mu.Lock()
	if !s.busy || s.kept != nil && priority > s.kept.priority {
		s.busy, s.kept = true, nil
		s.mu.Unlock()
		return
	}
	ready := make(chan struct{})
	s.waiting = append(s.waiting, slotWaiter{priority, ready})
	s.mu.Unlock()
	<-ready
}

// release hands the slot to the waiting task of highest priority, if any.
func (s *computeSlot) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handOff()
}

// releaseFor lets the slot go like release, unless no waiting task has a
// priority above p: then the slot is kept for the caller's next task, of
// priority p, which takes it with claim (or a task of higher priority
// that asks first).
func (s *computeSlot) releaseFor(p int) *reservation {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.waiting {
		if w.priority > p {
			s.handOff()
			return nil
		}
	}
	s.kept = &reservation{p}
	return s.kept
}

// claim takes the slot kept by r, or, if another task took it, waits for
// it like acquire.
func (s *computeSlot) claim(r *reservation) {
	s.mu.Lock()
	if s.kept == r {
		s.kept = nil
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.acquire(r.priority)
}

// cancel gives up r if it still keeps the slot.
func (s *computeSlot) cancel(r *reservation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r != nil && s.kept == r {
		s.kept = nil
		s.handOff()
	}
}

// handOff gives the busy slot to the waiting task of highest priority, or
// frees it; s.mu is held.
func (s *computeSlot) handOff() {
	if len(s.waiting) == 0 {
		s.busy = false
		return
	}
	best := 0
	for i, w := range s.waiting {
		if w.priority > s.waiting[best].priority {
			best = i
		}
	}
	next := s.waiting[best]
	s.waiting = slices.Delete(s.waiting, best, best+1)
	close(next.ready) // the slot stays busy: it is next's now
}
