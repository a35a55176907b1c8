package executor

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/npw-dev/npw/state"
)

// DefaultHeartbeat is how often a worker tells the state store it is
// alive, so that `npw status` counts every worker of a job, whoever
// started it (the provisioner, a Lambda, `npw worker` by hand).
const DefaultHeartbeat = 5 * time.Second

// A Beater keeps a worker's heartbeat, and what it has used, in the
// state store.
type Beater interface {
	Heartbeat(ctx context.Context, job, worker string, now time.Time) error
	Retire(ctx context.Context, job, worker string) error
	PutUsage(ctx context.Context, job, member string, usage []byte) error
}

// A Usage is what a member of a job has used so far, as it leaves it in
// the state store (state.Store.PutUsage) with each heartbeat: the cost of
// a job that is still running. A worker's is its lifetime so far and the
// requests to its own services; a provisioner's (Worker false) the
// requests of its process, its goroutine workers' included.
type Usage struct {
	Worker   bool      `json:"worker,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	At       time.Time `json:"at,omitzero"` // the last heartbeat, or the worker's stop
	Stopped  bool      `json:"stopped,omitempty"`
	Requests Requests  `json:"requests"`
	// FunctionMemoryMB: see Report.
	FunctionMemoryMB int `json:"function_memory_mb,omitempty"`
}

// Seconds is the worker's lifetime so far.
func (u Usage) Seconds() float64 {
	if !u.Worker || u.At.Before(u.Started) {
		return 0
	}
	return u.At.Sub(u.Started).Seconds()
}

// beat sends the worker's heartbeat, with its usage so far, every
// DefaultHeartbeat until ctx is done, then leaves its last usage and
// retires it; a job the store no longer knows (cancelled, ended) halts
// the worker. A store without heartbeats (a test double) gets none.
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
		defer w.putUsage(context.WithoutCancel(ctx), b, true)
		tick := w.cfg.Clock.NewTicker(DefaultHeartbeat)
		defer tick.Stop()
		for {
			err := b.Heartbeat(ctx, w.cfg.Job.ID, w.cfg.ID, w.cfg.Clock.Now())
			if errors.Is(err, state.ErrNoJob) {
				w.halt("the job has ended")
			} else if err == nil {
				w.putUsage(ctx, b, false)
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

// putUsage leaves the worker's usage so far in the state store.
func (w *worker) putUsage(ctx context.Context, b Beater, stopped bool) {
	u := Usage{Worker: true, Started: w.start, At: w.cfg.Clock.Now(), Stopped: stopped, FunctionMemoryMB: w.cfg.FunctionMemoryMB}
	if w.cfg.Requests != nil {
		u.Requests = w.cfg.Requests()
	}
	data, err := json.Marshal(u)
	if err != nil {
		return
	}
	if err := b.PutUsage(ctx, w.cfg.Job.ID, w.cfg.ID, data); err != nil && !errors.Is(err, state.ErrNoJob) && ctx.Err() == nil {
		w.cfg.Log.Warn("keeping the worker's usage failed", "worker", w.cfg.ID, "err", err)
	}
}
