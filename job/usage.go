package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/npw-dev/npw/clock"
	"github.com/npw-dev/npw/cost"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/queue"
	"github.com/npw-dev/npw/state"
)

// keepUsage leaves this process's requests for the job (since tiles0:
// its own and its goroutine workers') in the state store every
// heartbeat, as the workers leave theirs, until ctx is done, and once
// more then: with them, LiveUsage prices a job that is still running
// from any process.
func keepUsage(ctx context.Context, env Env, q *queue.Queue, id string, tiles0 TrafficStats, opts Options) {
	member := whoAmI("provisioner")
	put := func(ctx context.Context) {
		r := snapshot(env).minus(tiles0).Requests
		r.Queue = q.Requests()
		data, err := json.Marshal(executor.Usage{Requests: r})
		if err != nil {
			return
		}
		if err := env.State.PutUsage(ctx, id, member, data); err != nil && !errors.Is(err, state.ErrNoJob) && ctx.Err() == nil {
			opts.Log.Warn("keeping the provisioner's usage failed", "job", id, "err", err)
		}
	}
	clk := clock.Or(opts.Clock)
	tick := clk.NewTicker(executor.DefaultHeartbeat)
	defer tick.Stop()
	for {
		put(ctx)
		select {
		case <-ctx.Done():
			put(context.WithoutCancel(ctx))
			return
		case <-tick.C():
		}
	}
}

// LiveUsage is what a job that is still running has used so far, as
// AWS would bill it were its workers Lambda functions (MemoryGB is left
// for the pricing to set): the workers' lifetimes, up to now for those
// alive (heard from within HeartbeatWindow) and up to their stop or last
// heartbeat for the others, one invocation each, and the requests the
// workers and provisioners reported with their heartbeats (up to
// executor.DefaultHeartbeat old); Wall is the time since the job was
// created.
func LiveUsage(ctx context.Context, st *state.Store, rec *Record, now time.Time) (cost.Usage, error) {
	members, err := st.Usage(ctx, rec.ID)
	if err != nil {
		return cost.Usage{}, err
	}
	u := cost.Usage{Wall: now.Sub(rec.Created)}
	var r executor.Requests
	for m, data := range members {
		var mu executor.Usage
		if err := json.Unmarshal(data, &mu); err != nil {
			return cost.Usage{}, fmt.Errorf("job %s: corrupt usage of %s: %w", rec.ID, m, err)
		}
		if mu.Worker {
			if !mu.Stopped && now.Sub(mu.At) < HeartbeatWindow {
				mu.At = now // alive: its lifetime so far
			}
			u.WorkerSeconds += mu.Seconds()
			u.Invocations++
			u.FunctionMemoryMB = max(u.FunctionMemoryMB, mu.FunctionMemoryMB)
		}
		r.Add(mu.Requests)
	}
	u.S3Puts, u.S3Gets, u.SQSRequests = r.TilePutClass, r.TileGetClass, r.Queue
	return u, nil
}
