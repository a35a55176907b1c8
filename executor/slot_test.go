package executor

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// Tasks waiting for the compute slot get it by priority, higher first,
// and in arrival order on ties; one holds it at a time.
func TestComputeSlotOrder(t *testing.T) {
	var s computeSlot
	s.acquire(0)
	var mu sync.Mutex
	var order []int
	holders := 0
	var wg sync.WaitGroup
	for i, p := range []int{-5, 3, -1, 3, 7} {
		wg.Go(func() {
			s.acquire(p)
			mu.Lock()
			holders++
			if holders > 1 {
				t.Error("two tasks hold the slot")
			}
			order = append(order, i)
			holders--
			mu.Unlock()
			s.release()
		})
		// Let each waiter queue up before the next (arrival order).
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			s.mu.Lock()
			n := len(s.waiting)
			s.mu.Unlock()
			if n == i+1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a waiter never queued")
			}
		}
	}
	s.release()
	wg.Wait()
	if want := []int{4, 1, 3, 2, 0}; !slices.Equal(order, want) {
		t.Fatalf("the slot went to waiters %v, want %v (priorities -5, 3, -1, 3, 7)", order, want)
	}
	if s.busy || len(s.waiting) > 0 {
		t.Fatal("the slot is still held")
	}
}

// A slot kept for the holder's next task goes to it, not to a waiting task
// of lower priority; a waiting task of higher priority gets the slot
// instead of the keep; a task of higher priority that asks while the slot
// is kept takes it, and the next task then waits its turn; a cancelled
// keep hands the slot on.
func TestComputeSlotKeep(t *testing.T) {
	var s computeSlot
	waiter := func(p int) (chan struct{}, int) {
		got := make(chan struct{})
		go func() { s.acquire(p); close(got) }()
		for {
			s.mu.Lock()
			n := len(s.waiting)
			s.mu.Unlock()
			if n > 0 {
				return got, n
			}
			time.Sleep(time.Millisecond)
		}
	}
	s.acquire(0)
	low, _ := waiter(-5)
	r := s.releaseFor(3)
	if r == nil {
		t.Fatal("the slot was not kept for a task of priority 3 over a waiter of -5")
	}
	s.claim(r) // at once
	select {
	case <-low:
		t.Fatal("the waiter of lower priority got the kept slot")
	default:
	}
	if r := s.releaseFor(-9); r != nil {
		t.Fatal("the slot was kept for a task of priority -9 over a waiter of -5")
	}
	<-low // the waiter has it now
	r = s.releaseFor(1)
	if r == nil {
		t.Fatal("with no one waiting, the slot was not kept")
	}
	s.acquire(7) // asks while the slot is kept, with a higher priority: takes it
	claimed := make(chan struct{})
	go func() { s.claim(r); close(claimed) }()
	time.Sleep(20 * time.Millisecond)
	select {
	case <-claimed:
		t.Fatal("the claim took a slot another task holds")
	default:
	}
	s.release()
	<-claimed
	r = s.releaseFor(2)
	later, _ := waiter(0)
	s.cancel(r)
	<-later
	s.cancel(r) // a spent keep: nothing happens
	s.release()
	if s.busy || s.kept != nil || len(s.waiting) > 0 {
		t.Fatalf("the slot is still held: busy %v, kept %v, %d waiting", s.busy, s.kept, len(s.waiting))
	}
}
