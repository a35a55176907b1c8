package executor

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/npw-dev/npw/clock"
	"github.com/npw-dev/npw/queue"
)

// ackDelay is how long a finished task's acknowledgement waits for those
// of the worker's other slots, so that one request (SQS: a
// DeleteMessageBatch per level) acknowledges up to ackBatch tasks. The
// task is done in the state store before; an acknowledgement that never
// comes (a crash) only makes the queue deliver the task again, and its
// redelivery is replayed as a done task.
const (
	ackDelay   = 10 * time.Millisecond
	ackBatch   = 10
	ackTimeout = 30 * time.Second // for one batch
)

var errAckTimeout = errors.New("acknowledging finished tasks timed out")

// An acker acknowledges finished tasks: the worker's queue.
type acker interface {
	Ack(ctx context.Context, receipts ...string) error
}

// acks batches a worker's acknowledgements.
type acks struct {
	queue   acker
	crashed *atomic.Bool // the worker's: a crashed worker acknowledges nothing
	clock   clock.Clock
	log     *slog.Logger

	mu      sync.Mutex
	pending []string
	timer   clock.Timer
	// timed counts the timer set and its flush until it has sent, so
	// that wait sees the last batch out before the worker stops.
	timed sync.WaitGroup
}

func newAcks(q acker, crashed *atomic.Bool, c clock.Clock, log *slog.Logger) *acks {
	return &acks{queue: q, crashed: crashed, clock: c, log: log}
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
		a.timed.Add(1)
		a.timer = a.clock.AfterFunc(ackDelay, func() {
			defer a.timed.Done()
			a.flush(ctx)
		})
	}
	a.mu.Unlock()
}

// take empties the batch; a.mu is held.
func (a *acks) take() []string {
	batch := a.pending
	a.pending = nil
	if a.timer != nil {
		if a.timer.Stop() {
			a.timed.Done() // its flush will not run
		}
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

// wait waits for a flush the timer started: without it, a stopping
// worker could cancel the batch being sent.
func (a *acks) wait() { a.timed.Wait() }

// drop forgets what is waiting, as a crashed worker would.
func (a *acks) drop() {
	a.mu.Lock()
	a.take()
	a.mu.Unlock()
}

func (a *acks) send(ctx context.Context, receipts []string) {
	if len(receipts) == 0 || a.crashed.Load() || ctx.Err() != nil {
		return // a crashed or killed worker acknowledges nothing
	}
	ctx, cancel := clock.WithTimeout(ctx, a.clock, ackTimeout, errAckTimeout)
	defer cancel()
	if err := a.queue.Ack(ctx, receipts...); err != nil && !errors.Is(err, queue.ErrLeaseLost) {
		// The tasks are done; the queue will deliver them again and
		// their redeliveries are replayed.
		a.log.Warn("acknowledging finished tasks failed", "tasks", len(receipts), "err", err)
	}
}
