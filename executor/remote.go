package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/clock"
	"github.com/npw-dev/npw/manifest"
	"github.com/npw-dev/npw/queue"
	"github.com/npw-dev/npw/state"
)

// A Remote is what a worker started outside the client's process needs:
// the job, the URLs of its services and how to work. It is the payload of
// a Lambda invocation and the flags of `npw worker`.
type Remote struct {
	Job   string `json:"job"`
	Store string `json:"store"`
	Queue string `json:"queue"`
	State string `json:"state"`
	ID    string `json:"id,omitempty"`

	Settings
}

// Check reports a Remote that cannot work: a missing field, or a memory
// URL, which no other process can share.
func (r Remote) Check() error {
	if r.Job == "" {
		return errors.New("a worker needs a job id")
	}
	for _, u := range []struct{ what, url string }{{"store", r.Store}, {"queue", r.Queue}, {"state", r.State}} {
		if u.url == "" {
			return fmt.Errorf("a worker needs a %s URL", u.what)
		}
		if len(u.url) >= 6 && u.url[:6] == "mem://" {
			return fmt.Errorf("a worker in another process cannot reach the %s %s: memory services live in one process; use file:// or s3:// tiles, sqs:// and redis://", u.what, u.url)
		}
	}
	return r.Settings.Check()
}

// Serve runs one worker of a remote job to its end: it opens the job's
// services, loads the job, works until the worker stops and keeps its
// report in the state store, where the client collects it. A job that
// has ended (its manifest, queue or state gone) is a normal stop, not an
// error. The worker runs on real time.
func Serve(ctx context.Context, r Remote, log *slog.Logger) (Report, error) {
	return ServeOn(ctx, r, log, clock.Real)
}

// ServeOn is Serve with the worker's time taken from clk (nil: real
// time), as in a simulation.
func ServeOn(ctx context.Context, r Remote, log *slog.Logger, clk clock.Clock) (Report, error) {
	clk = clock.Or(clk)
	if err := r.Check(); err != nil {
		return Report{}, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := clk.Now()
	ended := func(why error) (Report, error) {
		log.Info("worker found its job ended", "job", r.Job, "worker", r.ID, "why", why)
		return Report{Worker: r.ID, Started: start, Stopped: clk.Now(), Reason: "the job has ended"}, nil
	}
	tiles, err := blockstore.Open(ctx, r.Store)
	if err != nil {
		return Report{}, err
	}
	defer tiles.Close()
	st, err := state.Open(ctx, r.State)
	if err != nil {
		return Report{}, err
	}
	defer st.Close()
	status, err := st.Status(ctx, r.Job)
	switch {
	case errors.Is(err, state.ErrNoJob):
		// Every worker is launched while its job's state exists, and the
		// state outlives the workers the job waits for.
		return Report{}, fmt.Errorf("job %s: %w in the state store: it never existed, or it ended and was cleaned up", r.Job, state.ErrNoJob)
	case err != nil:
		return Report{}, err
	case status.Phase != state.Running:
		return ended(fmt.Errorf("the job is %s", status.Phase))
	}
	job, err := manifest.Load(ctx, tiles, r.Job)
	if errors.Is(err, blockstore.ErrNotFound) {
		return ended(err)
	} else if err != nil {
		return Report{}, err
	}
	q, err := queue.Open(ctx, r.Queue, manifest.QueueName(r.Job))
	if errors.Is(err, queue.ErrNoQueue) {
		return ended(err)
	} else if err != nil {
		return Report{}, err
	}
	defer q.Close()
	settings := r.Settings.WithDefaults()
	if settings.Memory == 0 {
		settings.Memory = int64(3*settings.Pipeline+2) * job.TileBytes()
	}
	requests := func() Requests {
		return Requests{Tiles: tiles.Requests(), TilePutClass: tiles.PutRequests(), TileGetClass: tiles.GetRequests(), Queue: q.Requests(), State: st.Requests()}
	}
	rep, err := Run(ctx, Config{Job: job, Tiles: tiles, Queue: q, State: st, ID: r.ID, Settings: settings, Clock: clk, Log: log,
		Requests: requests, FunctionMemoryMB: functionMemory()})
	rep.Requests = requests()
	rep.Requests.State++ // the report
	rep.PeakRSS = peakRSS()
	if err != nil {
		return rep, err
	}
	data, err := json.Marshal(rep)
	if err != nil {
		return rep, err
	}
	if err := st.AddWorkerReport(context.WithoutCancel(ctx), r.Job, data); err != nil && !errors.Is(err, state.ErrNoJob) {
		log.Warn("keeping the worker report failed", "job", r.Job, "worker", r.ID, "err", err)
	}
	return rep, nil
}

// functionMemory is the memory, in MB, of the Lambda function this
// process runs in, as Lambda's environment gives it; 0 elsewhere.
func functionMemory() int {
	mb, err := strconv.Atoi(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	if err != nil || mb <= 0 {
		return 0
	}
	return mb
}
