package executor

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/npw-dev/npw/clock"
)

// ackQueue records the batches of acknowledgements it gets.
type ackQueue struct {
	Queue
	mu      sync.Mutex
	batches [][]string
}

func (q *ackQueue) Ack(_ context.Context, receipts ...string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.batches = append(q.batches, slices.Clone(receipts))
	return nil
}

func (q *ackQueue) got() [][]string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.batches)
}

// Acknowledgements go out ten at a time, or once ackDelay has passed on
// the worker's clock; a crashed worker sends none.
func TestAcksBatch(t *testing.T) {
	q := &ackQueue{}
	fake := clock.NewFake(time.Unix(0, 0))
	var crashed atomic.Bool
	a := newAcks(q, &crashed, fake, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	for i := range 23 {
		a.add(ctx, strconv.Itoa(i))
	}
	if b := q.got(); len(b) != 2 || len(b[0]) != ackBatch || len(b[1]) != ackBatch {
		t.Fatalf("after 23 acks: batches %v, want two full ones", b)
	}
	fake.Advance(ackDelay / 2)
	if b := q.got(); len(b) != 2 {
		t.Fatalf("before the delay: batches %v", b)
	}
	fake.Advance(ackDelay)
	a.wait() // for the flush the timer started
	b := q.got()
	if len(b) != 3 || !slices.Equal(b[2], []string{"20", "21", "22"}) {
		t.Fatalf("after the delay: batches %v", b)
	}
	a.add(ctx, "x")
	crashed.Store(true)
	a.flush(ctx)
	a.wait() // the timer stopped: nothing to wait for
	if n := len(q.got()); n != 3 {
		t.Errorf("a crashed worker acknowledged: %d batches", n)
	}
}
