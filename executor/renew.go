package executor

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/npw-dev/npw/clock"
	"github.com/npw-dev/npw/queue"
)

// A renewer extends the leases of the tasks a worker has in progress,
// every third of a lease, from one goroutine: a task that runs longer than
// its lease stays with its worker, and the leases of a worker that dies
// lapse. The receipts in progress are its own, guarded by its mutex.
type renewer struct {
	queue Queue
	lease time.Duration
	clock clock.Clock
	log   *slog.Logger
	done  chan struct{} // closed when the goroutine has stopped

	mu       sync.Mutex
	receipts map[string]bool // of the tasks in progress
}

func newRenewer(q Queue, lease time.Duration, c clock.Clock, log *slog.Logger) *renewer {
	return &renewer{queue: q, lease: lease, clock: c, log: log, done: make(chan struct{}), receipts: map[string]bool{}}
}

// start renews leases until ctx is done; then Done is closed.
func (r *renewer) start(ctx context.Context) {
	go func() {
		defer close(r.done)
		tick := r.clock.NewTicker(r.lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C():
				r.renew(ctx)
			}
		}
	}()
}

// Done is closed once the renewer has stopped: it extends no lease after.
func (r *renewer) Done() <-chan struct{} { return r.done }

// add renews the lease of a task in progress from now on.
func (r *renewer) add(receipt string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.receipts[receipt] = true
}

// remove stops renewing a lease: its task is finished, or abandoned.
func (r *renewer) remove(receipt string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.receipts, receipt)
}

// inProgress returns the number of leases it renews: the tasks in
// progress.
func (r *renewer) inProgress() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.receipts)
}

// renew extends every lease in progress once. A lease the queue has lost
// is renewed no more.
func (r *renewer) renew(ctx context.Context) {
	r.mu.Lock()
	receipts := make([]string, 0, len(r.receipts))
	for receipt := range r.receipts {
		receipts = append(receipts, receipt)
	}
	r.mu.Unlock()
	for _, receipt := range receipts {
		if err := r.queue.Extend(ctx, receipt, r.lease); err != nil && ctx.Err() == nil {
			r.log.Warn("lease renewal failed", "err", err)
			if errors.Is(err, queue.ErrLeaseLost) {
				r.remove(receipt)
			}
		}
	}
}
