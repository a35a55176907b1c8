package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/npw-dev/npw/clock"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/provisioner"
	"github.com/npw-dev/npw/state"

	"github.com/npw-dev/npw/internal/secret"
)

// A Record is a job as the state store keeps it for any process that
// reaches the job's services: what it runs, where its tiles and queue
// are, how its workers are provisioned and by whom, where its outputs
// go and, once it has ended, how it ended. With it, another process can
// follow the job (Wait), provision it (Provision), list it (List) or
// cancel it (Cancel) after the client that submitted it has gone.
type Record struct {
	ID       string        `json:"id"`
	Program  string        `json:"program"`
	Created  time.Time     `json:"created"`
	Tasks    int64         `json:"tasks"`
	Kernels  []KernelCount `json:"kernels"`
	Store    string        `json:"store"`
	Queue    string        `json:"queue"`
	Outputs  []Output      `json:"outputs,omitempty"`
	Uploaded int64         `json:"uploaded"`
	// Owned are key prefixes of tiles the job took over from its client
	// (inputs uploaded for it); they go when the job ends.
	Owned []string `json:"owned,omitempty"`
	// Launch is how to start the job's workers, for a provisioner in
	// another process.
	Launch Launch `json:"launch"`
	// Provisioner names the process provisioning the job now
	// ("client host:pid", "provisioner host:pid"); "" when none is.
	Provisioner string `json:"provisioner,omitempty"`
	// Attached says a client waits for the job and will collect its
	// end, so that the record is deleted rather than kept for Wait.
	Attached bool `json:"attached,omitempty"`

	End *End `json:"end,omitempty"` // set once the job has ended
}

// An Output is a matrix a job keeps, and the URL of a stored matrix
// where the job's end saves it (Target; "" keeps it with the job's
// tiles for the client).
type Output struct {
	Name   string  `json:"name"`
	Fixed  []int32 `json:"fixed,omitempty"`
	Target string  `json:"target,omitempty"`
}

// Launch describes how a job's workers start: as processes of Command
// on the provisioner's machine, or as invocations of a Lambda Function,
// by the paper's policy (sf, at most MaxWorkers), each with Settings.
type Launch struct {
	Kind        string            `json:"kind"` // "process" or "lambda"
	Command     []string          `json:"command,omitempty"`
	Function    string            `json:"function,omitempty"`
	MaxWorkers  int               `json:"max_workers"`
	ScaleFactor float64           `json:"sf"`
	Settings    executor.Settings `json:"settings"`
}

// Pool returns the launcher factory of l, for Options.Pool.
func (l Launch) Pool() (func(executor.Remote) (provisioner.Pool, error), error) {
	return l.PoolFrom(provisioner.LambdaState{})
}

// PoolFrom is Pool for a provisioner that takes over the Lambda workers
// a predecessor handed off (ignored for processes).
func (l Launch) PoolFrom(from provisioner.LambdaState) (func(executor.Remote) (provisioner.Pool, error), error) {
	switch l.Kind {
	case "process":
		command := l.Command
		return func(r executor.Remote) (provisioner.Pool, error) {
			return &provisioner.Processes{Command: command, Remote: r}, nil
		}, nil
	case "lambda":
		return provisioner.LambdaPoolResuming(l.Function, from), nil
	}
	return nil, fmt.Errorf("job launch %q: workers of another process start as processes or Lambda invocations", l.Kind)
}

// End is how a job ended.
type End struct {
	At      time.Time     `json:"at"`
	Phase   state.Phase   `json:"phase"`
	Error   string        `json:"error,omitempty"`
	Status  state.Status  `json:"status"`
	Wall    time.Duration `json:"wall"`
	Workers []Worker      `json:"workers,omitempty"`
	// PeakWorkers is the most workers its provisioner ran at once.
	PeakWorkers int          `json:"peak_workers"`
	Traffic     TrafficStats `json:"traffic"`
	// Saved lists the outputs saved to their targets.
	Saved []string `json:"saved,omitempty"`
}

// A Worker is a worker's report as a record keeps it (without task
// spans).
type Worker struct {
	executor.Report
	Launched time.Time `json:"launched"`
	Err      string    `json:"err,omitempty"`
}

// RecordTTL is how long the record of a job that ended stays for Wait
// (and List) when no client was attached to collect it.
const RecordTTL = 24 * time.Hour

// putRecord writes r to the state store; an ended job's record expires
// after RecordTTL.
func putRecord(ctx context.Context, st *state.Store, r *Record) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	var ttl time.Duration
	if r.End != nil {
		ttl = RecordTTL
	}
	return st.PutRecord(ctx, r.ID, data, ttl)
}

// LoadRecord reads a job's record. A job the store does not know is an
// error wrapping state.ErrNoJob.
func LoadRecord(ctx context.Context, st *state.Store, id string) (*Record, error) {
	data, err := st.Record(ctx, id)
	if err != nil {
		if errors.Is(err, state.ErrNoJob) {
			return nil, fmt.Errorf("no job %s in the state store %s: %w", id, secret.Redact(st.URL()), state.ErrNoJob)
		}
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("job %s: corrupt record: %w", id, err)
	}
	return &r, nil
}

// List returns the records of the jobs the state store holds, by id.
func List(ctx context.Context, st *state.Store) ([]*Record, error) {
	ids, err := st.Jobs(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Record
	for _, id := range ids {
		r, err := LoadRecord(ctx, st, id)
		if errors.Is(err, state.ErrNoJob) {
			continue // expired or deleted since the listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// workers converts launcher reports for a record.
func workers(reps []provisioner.WorkerReport) []Worker {
	out := make([]Worker, len(reps))
	for i, r := range reps {
		out[i] = Worker{Report: r.Report, Launched: r.Launched}
		out[i].Spans = nil
		if r.Err != nil {
			out[i].Err = r.Err.Error()
		}
	}
	return out
}

// whoAmI names this process for Record.Provisioner.
func whoAmI(role string) string {
	if fn := os.Getenv("AWS_LAMBDA_FUNCTION_NAME"); fn != "" {
		return fmt.Sprintf("%s in Lambda function %s", role, fn)
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s %s:%d", role, host, os.Getpid())
}

// othersGrace bounds how long a job's end waits for workers its
// launcher did not start (npw worker by hand) to stop and report.
const othersGrace = 10 * time.Second

// othersReports returns the reports of the workers of a job that its
// launcher did not start (their ids are not among launched), such as
// `npw worker --job ID` started by hand: it waits, up to othersGrace, for
// their heartbeats to stop, then reads the reports they left in the
// state store.
func othersReports(ctx context.Context, st *state.Store, id string, launched []provisioner.WorkerReport, clk clock.Clock) []provisioner.WorkerReport {
	ours := map[string]bool{}
	for _, r := range launched {
		ours[r.Worker] = true
	}
	for end := clk.Now().Add(othersGrace); clk.Now().Before(end); {
		alive, err := st.Workers(ctx, id, clk.Now().Add(-3*executor.DefaultHeartbeat))
		if err != nil || !slices.ContainsFunc(alive, func(w string) bool { return !ours[w] }) {
			break
		}
		clk.Sleep(ctx, 100*time.Millisecond)
	}
	raw, err := st.WorkerReports(ctx, id)
	if err != nil {
		return nil
	}
	var out []provisioner.WorkerReport
	for _, data := range raw {
		var rep executor.Report
		if json.Unmarshal(data, &rep) == nil && !ours[rep.Worker] {
			out = append(out, provisioner.WorkerReport{Report: rep, Launched: rep.Started})
		}
	}
	return out
}
