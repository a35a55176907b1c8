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
