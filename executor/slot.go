package executor

import (
	"slices"
	"sync"
)

// A computeSlot lets one task at a time run its kernel (a worker computes
// on one core, like a one-core Lambda); tasks waiting for it get it in
// the plan's priority order, higher first, and in arrival order on ties.
// The tasks of a pipeline read in the order they were leased, but when
// two wait to compute, the one nearer the critical path goes first: in a
// Cholesky of 4×4 tiles on the local cloud, a worker holding the update
// that feeds the next panel's factorisation ran it after an update of a
// later column, and chol(1) started 0.3 s later than it could have.
type computeSlot struct {
	mu      sync.Mutex
	busy    bool
	waiting []slotWaiter
}

type slotWaiter struct {
	priority int
	ready    chan struct{}
}

// acquire waits until the slot is the caller's.
func (s *computeSlot) acquire(priority int) {
	s.mu.Lock()
	if !s.busy {
		s.busy = true
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
