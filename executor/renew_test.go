package executor

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/npw-dev/npw/clock"
	"github.com/npw-dev/npw/queue"
)

// extendQueue records the leases extended; lost is a lease it has lost.
type extendQueue struct {
	Queue
	lost     string
	mu       sync.Mutex
	extended []string
}

func (q *extendQueue) Extend(_ context.Context, receipt string, visibility time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.extended = append(q.extended, receipt)
	if receipt == q.lost {
		return queue.ErrLeaseLost
	}
	return nil
}

func (q *extendQueue) got() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.extended)
}

// The renewer extends the leases in progress every third of a lease on
// its clock, forgets a lease the queue has lost, and stops with its
// context.
func TestRenewer(t *testing.T) {
	q := &extendQueue{lost: "b"}
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r := newRenewer(q, 3*time.Second, fake, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.add("a")
	r.add("b")
	r.start(ctx)
	if err := fake.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	fake.Advance(time.Second - time.Millisecond)
	if got := q.got(); len(got) != 0 {
		t.Fatalf("leases %v extended before a third of the lease", got)
	}
	fake.Advance(time.Millisecond)
	waitFor(t, "both leases are extended", func() bool { return len(q.got()) == 2 })
	waitFor(t, "the lost lease is forgotten", func() bool { return r.inProgress() == 1 })
	r.remove("a")
	r.add("c")
	fake.Advance(time.Second)
	waitFor(t, "the new lease is extended", func() bool { return len(q.got()) == 3 })
	if got := q.got(); !slices.Equal(got[2:], []string{"c"}) {
		t.Fatalf("extended %v, want only c in the second round", got)
	}
	cancel()
	select {
	case <-r.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the renewer did not stop with its context")
	}
}
