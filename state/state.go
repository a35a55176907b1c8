// Package state is the runtime state store of jobs: which tasks are done,
// which parents of each waiting task have finished, the scratch tiles
// still needed, progress counters, and the job's status and error.
//
// Every change is one atomic transition (one Lua script in Redis), and
// completion is idempotent per edge: the store records which parents of a
// child finished, as a set, and reports every child whose parents are all
// done — also when a completion is replayed after a crash between the
// transition and the enqueue — so nothing is lost and duplicates are
// harmless (done tasks are skipped).
//
// Drivers register a URL scheme (mem://, redis://); every driver passes
// the suite in state/statetest.
package state

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/npw-dev/npw/internal/registry"

	"github.com/npw-dev/npw/internal/secret"
)

// A Job is what the store needs to know to track one job.
type Job struct {
	ID    string
	Tasks int64 // the job is done when this many tasks are
	// TTL is how long state may outlive the job's last change (drivers
	// with expiry); 0 keeps it until Delete.
	TTL time.Duration
}

// A Phase is where a job stands.
type Phase string

const (
	Running Phase = "running"
	Done    Phase = "done"
	Failed  Phase = "failed"
)

// Metrics are a task's costs, summed over the job's tasks (each task
// once, however often it ran).
type Metrics struct {
	Flops          float64 `json:"flops"`
	BytesRead      int64   `json:"bytes_read"`
	BytesWritten   int64   `json:"bytes_written"`
	ReadSeconds    float64 `json:"read_seconds"`
	ComputeSeconds float64 `json:"compute_seconds"`
	WriteSeconds   float64 `json:"write_seconds"`
	// CacheHits counts tile reads a worker served from its own cache
	// instead of the store.
	CacheHits int64 `json:"cache_hits"`
}

// Add adds m2 to m.
func (m *Metrics) Add(m2 Metrics) {
	m.Flops += m2.Flops
	m.BytesRead += m2.BytesRead
	m.BytesWritten += m2.BytesWritten
	m.ReadSeconds += m2.ReadSeconds
	m.ComputeSeconds += m2.ComputeSeconds
	m.WriteSeconds += m2.WriteSeconds
	m.CacheHits += m2.CacheHits
}

// Status is a snapshot of a job.
type Status struct {
	Phase            Phase
	Tasks, Done      int64
	Error            string
	Metrics          Metrics
	ScratchBytes     int64 // scratch tiles alive now
	PeakScratchBytes int64
	Workers          int64 // worker reports received
}

// An Edge is a child of a completed task, with the child's number of
// distinct parents.
type Edge struct {
	Child    string
	Indegree int
}

// A Tile is a scratch tile: written by one task, read by Readers tasks,
// then no longer needed.
type Tile struct {
	Key     string
	Readers int
	Bytes   int64
}

// A Completion reports one finished task.
type Completion struct {
	Task     string
	Children []Edge
	Written  []Tile   // scratch tiles the task wrote
	Released []string // scratch tiles the task read
	Metrics  Metrics
	// Continued is a child that the worker runs itself next, without
	// enqueueing it. The store keeps it (the first time), so that a
	// replay of the task can follow it.
	Continued string
}

// An Outcome is what a completion changed.
type Outcome struct {
	First bool     // this completion marked the task done; false for a replay
	Ready []string // children whose parents are all done and that are not done
	Free  []string // scratch tiles among Written and Released that no task will read again
	Phase Phase    // the job's phase afterwards
	// Continued is the child the task's first completion said its worker
	// would run next ("" if none).
	Continued string
}

// ErrNoJob reports a job the store does not know (never created, or deleted).
var ErrNoJob = errors.New("no such job")

// A Driver implements the transitions.
type Driver interface {
	// CreateJob starts tracking a job; an existing job is an error.
	CreateJob(ctx context.Context, job Job) error
	// Complete records a finished task atomically.
	Complete(ctx context.Context, job string, c Completion) (Outcome, error)
	// IsDone reports whether a task is done.
	IsDone(ctx context.Context, job, task string) (bool, error)
	// ReadyAfter returns the children of parent, which is not done yet,
	// that are not done and whose other parents all are: those its
	// completion will make ready. It changes nothing.
	ReadyAfter(ctx context.Context, job, parent string, children []Edge) ([]string, error)
	// RecordFailure counts a failed attempt of a task and returns the
	// count so far.
	RecordFailure(ctx context.Context, job, task string) (int, error)
	// Fail marks a running job failed with a message; the first wins.
	Fail(ctx context.Context, job, msg string) error
	// Status returns a snapshot.
	Status(ctx context.Context, job string) (Status, error)
	// AddWorkerReport keeps a report of a worker that served the job
	// (opaque bytes; JSON in practice). Workers that run elsewhere
	// (processes, Lambda functions) report this way.
	AddWorkerReport(ctx context.Context, job string, report []byte) error
	// WorkerReports returns the reports, in the order they arrived.
	WorkerReports(ctx context.Context, job string) ([][]byte, error)
	// Delete forgets a job.
	Delete(ctx context.Context, job string) error

	// PutRecord creates or replaces the job's record: opaque bytes (JSON
	// in practice) that any process reaching the store reads to follow,
	// provision, finish or cancel the job (what it runs, where its tiles
	// and queue are, where its outputs go, how it ended). ttl > 0 makes
	// the record expire ttl after this put (a finished job's last word);
	// 0 keeps it until DeleteRecord. A record is independent of the job's
	// task state: CreateJob does not need one and Delete does not remove
	// it.
	PutRecord(ctx context.Context, job string, record []byte, ttl time.Duration) error
	// Record returns the job's record, or an error wrapping ErrNoJob.
	Record(ctx context.Context, job string) ([]byte, error)
	// Jobs returns the ids of the jobs that have a record, sorted;
	// expired records are not listed (the Redis index is a set cleaned
	// as it is read: ids whose record key is gone are removed).
	Jobs(ctx context.Context) ([]string, error)
	// DeleteRecord removes the record (and the id from Jobs); a missing
	// record is not an error.
	DeleteRecord(ctx context.Context, job string) error

	// Heartbeat notes that worker (an id such as "p3" or a Lambda request
	// id) of the job is alive at now; Retire forgets it; Workers returns
	// the workers whose last heartbeat is at or after since, sorted.
	// Heartbeat on a job the store does not know (no task state: never
	// created or deleted) returns an error wrapping ErrNoJob, so that a
	// worker of a cancelled job stops. Delete removes the heartbeats.
	// Retire on an unknown job is not an error; Workers on one returns an
	// error wrapping ErrNoJob. Drivers may keep times to the millisecond.
	Heartbeat(ctx context.Context, job, worker string, now time.Time) error
	Retire(ctx context.Context, job, worker string) error
	Workers(ctx context.Context, job string, since time.Time) ([]string, error)

	// PutUsage keeps what a member of the job (a worker, or a process
	// provisioning it) has used so far: opaque bytes (JSON in practice)
	// that replace the member's last. Usage returns every member's last,
	// by member, the retired workers' too: the cost of a job that is
	// still running. Both return an error wrapping ErrNoJob for a job
	// the store does not know; Delete removes the usage.
	PutUsage(ctx context.Context, job, member string, usage []byte) error
	Usage(ctx context.Context, job string) (map[string][]byte, error)

	Close() error
}

// An Opener opens a driver for a URL of its scheme.
type Opener func(ctx context.Context, u *url.URL) (Driver, error)

var openers = registry.New[Opener]("state store")

// Register makes a driver available under a URL scheme.
func Register(scheme string, open Opener) { openers.Register(scheme, open) }

// Open opens the state store at a URL such as mem://.
func Open(ctx context.Context, rawurl string) (*Store, error) {
	open, u, err := openers.Lookup(rawurl)
	if err != nil {
		return nil, err
	}
	d, err := open(ctx, u)
	if err != nil {
		return nil, secret.Wrap(fmt.Errorf("state store %s: %w", rawurl, err), rawurl)
	}
	return New(d, rawurl), nil
}

// New wraps a driver.
func New(d Driver, url string) *Store { return &Store{driver: d, url: url} }

// A Store is a state store; it is safe for concurrent use.
type Store struct {
	driver   Driver
	url      string
	requests atomic.Int64
}

// URL returns the URL the store was opened with.
func (s *Store) URL() string { return s.url }

// Requests counts the requests made so far.
func (s *Store) Requests() int64 { return s.requests.Load() }

// Driver returns the underlying driver.
func (s *Store) Driver() Driver { return s.driver }

func wrap(op, job string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s job %s: %w", op, job, err)
}

// CreateJob starts tracking a job.
func (s *Store) CreateJob(ctx context.Context, job Job) error {
	if job.ID == "" || job.Tasks < 0 {
		return fmt.Errorf("create job: need an id and a task count, got %q and %d", job.ID, job.Tasks)
	}
	s.requests.Add(1)
	return wrap("create", job.ID, s.driver.CreateJob(ctx, job))
}

// Complete records a finished task.
func (s *Store) Complete(ctx context.Context, job string, c Completion) (Outcome, error) {
	s.requests.Add(1)
	out, err := s.driver.Complete(ctx, job, c)
	return out, wrap("complete "+c.Task+" of", job, err)
}

// IsDone reports whether a task is done.
func (s *Store) IsDone(ctx context.Context, job, task string) (bool, error) {
	s.requests.Add(1)
	done, err := s.driver.IsDone(ctx, job, task)
	return done, wrap("query", job, err)
}

// ReadyAfter returns the children that parent's completion will make ready.
func (s *Store) ReadyAfter(ctx context.Context, job, parent string, children []Edge) ([]string, error) {
	s.requests.Add(1)
	ready, err := s.driver.ReadyAfter(ctx, job, parent, children)
	return ready, wrap("query", job, err)
}

// RecordFailure counts a failed attempt of a task.
func (s *Store) RecordFailure(ctx context.Context, job, task string) (int, error) {
	s.requests.Add(1)
	n, err := s.driver.RecordFailure(ctx, job, task)
	return n, wrap("record a failure in", job, err)
}

// Fail marks a job failed.
func (s *Store) Fail(ctx context.Context, job, msg string) error {
	s.requests.Add(1)
	return wrap("fail", job, s.driver.Fail(ctx, job, msg))
}

// Status returns a snapshot of a job.
func (s *Store) Status(ctx context.Context, job string) (Status, error) {
	s.requests.Add(1)
	st, err := s.driver.Status(ctx, job)
	return st, wrap("status of", job, err)
}

// AddWorkerReport keeps a worker's report.
func (s *Store) AddWorkerReport(ctx context.Context, job string, report []byte) error {
	s.requests.Add(1)
	return wrap("report to", job, s.driver.AddWorkerReport(ctx, job, report))
}

// WorkerReports returns the workers' reports.
func (s *Store) WorkerReports(ctx context.Context, job string) ([][]byte, error) {
	s.requests.Add(1)
	r, err := s.driver.WorkerReports(ctx, job)
	return r, wrap("read the worker reports of", job, err)
}

// Delete forgets a job.
func (s *Store) Delete(ctx context.Context, job string) error {
	s.requests.Add(1)
	return wrap("delete", job, s.driver.Delete(ctx, job))
}

// PutRecord creates or replaces the job's record; ttl > 0 makes it
// expire, 0 keeps it until DeleteRecord.
func (s *Store) PutRecord(ctx context.Context, job string, record []byte, ttl time.Duration) error {
	if job == "" || ttl < 0 {
		return fmt.Errorf("put a record: need a job id and a ttl of 0 or more, got %q and %v", job, ttl)
	}
	s.requests.Add(1)
	return wrap("put the record of", job, s.driver.PutRecord(ctx, job, record, ttl))
}

// Record returns the job's record, or an error wrapping ErrNoJob.
func (s *Store) Record(ctx context.Context, job string) ([]byte, error) {
	s.requests.Add(1)
	r, err := s.driver.Record(ctx, job)
	return r, wrap("read the record of", job, err)
}

// Jobs returns the ids of the jobs that have a record, sorted.
func (s *Store) Jobs(ctx context.Context) ([]string, error) {
	s.requests.Add(1)
	ids, err := s.driver.Jobs(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the jobs: %w", err)
	}
	return ids, nil
}

// DeleteRecord removes the job's record.
func (s *Store) DeleteRecord(ctx context.Context, job string) error {
	s.requests.Add(1)
	return wrap("delete the record of", job, s.driver.DeleteRecord(ctx, job))
}

// Heartbeat notes that a worker of the job is alive at now.
func (s *Store) Heartbeat(ctx context.Context, job, worker string, now time.Time) error {
	s.requests.Add(1)
	return wrap("heartbeat of worker "+worker+" in", job, s.driver.Heartbeat(ctx, job, worker, now))
}

// Retire forgets a worker of the job.
func (s *Store) Retire(ctx context.Context, job, worker string) error {
	s.requests.Add(1)
	return wrap("retire worker "+worker+" of", job, s.driver.Retire(ctx, job, worker))
}

// Workers returns the workers of the job heard from at or after since.
func (s *Store) Workers(ctx context.Context, job string, since time.Time) ([]string, error) {
	s.requests.Add(1)
	w, err := s.driver.Workers(ctx, job, since)
	return w, wrap("list the workers of", job, err)
}

// PutUsage keeps what a member of the job has used so far.
func (s *Store) PutUsage(ctx context.Context, job, member string, usage []byte) error {
	s.requests.Add(1)
	return wrap("put the usage of "+member+" in", job, s.driver.PutUsage(ctx, job, member, usage))
}

// Usage returns what each member of the job has used so far.
func (s *Store) Usage(ctx context.Context, job string) (map[string][]byte, error) {
	s.requests.Add(1)
	u, err := s.driver.Usage(ctx, job)
	return u, wrap("read the usage of", job, err)
}

// Close releases the driver.
func (s *Store) Close() error { return s.driver.Close() }
