package executor

import (
	"context"
	"errors"
	"time"

	"github.com/npw-dev/npw/state"
)

// DefaultHeartbeat is how often a worker tells the state store it is
// alive, so that `npw status` counts every worker of a job, whoever
// started it (the provisioner, a Lambda, `npw worker` by hand).
const DefaultHeartbeat = 5 * time.Second

// A Beater keeps a worker's heartbeat in the state store.
type Beater interface {
	Heartbeat(ctx context.Context, job, worker string, now time.Time) error
	Retire(ctx context.Context, job, worker string) error
}

// beat sends the worker's heartbeat every DefaultHeartbeat until ctx is
// done, then retires it; a job the store no longer knows (cancelled,
// ended) halts the worker. A store without heartbeats (a test double)
// gets none.
func (w *worker) beat(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	b, ok := w.cfg.State.(Beater)
	if !ok || w.cfg.ID == "" {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		defer b.Retire(context.WithoutCancel(ctx), w.cfg.Job.ID, w.cfg.ID)
		tick := w.cfg.Clock.NewTicker(DefaultHeartbeat)
		defer tick.Stop()
		for {
			err := b.Heartbeat(ctx, w.cfg.Job.ID, w.cfg.ID, w.cfg.Clock.Now())
			if errors.Is(err, state.ErrNoJob) {
				w.halt("the job has ended")
			}
			select {
			case <-ctx.Done():
				return
			case <-w.stopped:
				return
			case <-tick.C():
			}
		}
	}()
	return done
}
