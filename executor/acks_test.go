package executor

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
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

// Acknowledgements go out ten at a time, or after ackDelay; a crashed
// worker sends none.
func TestAcksBatch(t *testing.T) {
	q := &ackQueue{}
	w := &worker{cfg: Config{Queue: q, Log: slog.New(slog.DiscardHandler)}}
	w.acks.w = w
	ctx := context.Background()
	for i := range 23 {
		w.acks.add(ctx, strconv.Itoa(i))
	}
	if b := q.got(); len(b) != 2 || len(b[0]) != ackBatch || len(b[1]) != ackBatch {
		t.Fatalf("after 23 acks: batches %v, want two full ones", b)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(q.got()) < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	b := q.got()
	if len(b) != 3 || !slices.Equal(b[2], []string{"20", "21", "22"}) {
		t.Fatalf("after the delay: batches %v", b)
	}
	w.acks.add(ctx, "x")
	w.crashed.Store(true)
	w.acks.flush(ctx)
	time.Sleep(3 * ackDelay)
	if n := len(q.got()); n != 3 {
		t.Errorf("a crashed worker acknowledged: %d batches", n)
	}
}
