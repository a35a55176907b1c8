package executor

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/npw-dev/npw/queue"
)

// ackDelay is how long a finished task's acknowledgement waits for those
// of the worker's other slots, so that one request (SQS: a
// DeleteMessageBatch per level) acknowledges up to ackBatch tasks. The
// task is done in the state store before; an acknowledgement that never
// comes (a crash) only makes the queue deliver the task again, and its
// redelivery is replayed as a done task.
const (
	ackDelay = 10 * time.Millisecond
	ackBatch = 10
)

// acks batches a worker's acknowledgements.
type acks struct {
	w       *worker
	mu      sync.Mutex
	pending []string
	timer   *time.Timer
}

// add queues the acknowledgement of a lease; a full batch is sent at once.
func (a *acks) add(ctx context.Context, receipt string) {
	a.mu.Lock()
	a.pending = append(a.pending, receipt)
	if len(a.pending) >= ackBatch {
		batch := a.take()
		a.mu.Unlock()
		a.send(ctx, batch)
		return
	}
	if a.timer == nil {
		a.timer = time.AfterFunc(ackDelay, func() { a.flush(ctx) })
	}
	a.mu.Unlock()
}

// take empties the batch; a.mu is held.
func (a *acks) take() []string {
	batch := a.pending
	a.pending = nil
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	return batch
}

// flush sends what is waiting.
func (a *acks) flush(ctx context.Context) {
	a.mu.Lock()
	batch := a.take()
	a.mu.Unlock()
	a.send(ctx, batch)
}

// drop forgets what is waiting, as a crashed worker would.
func (a *acks) drop() {
	a.mu.Lock()
	a.take()
	a.mu.Unlock()
}

func (a *acks) send(ctx context.Context, receipts []string) {
	if len(receipts) == 0 || a.w.crashed.Load() || ctx.Err() != nil {
		return // a crashed or killed worker acknowledges nothing
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := a.w.cfg.Queue.Ack(ctx, receipts...); err != nil && !errors.Is(err, queue.ErrLeaseLost) {
		// The tasks are done; the queue will deliver them again and
		// their redeliveries are replayed.
		a.w.cfg.Log.Warn("acknowledging finished tasks failed", "worker", a.w.cfg.ID, "tasks", len(receipts), "err", err)
	}
}
