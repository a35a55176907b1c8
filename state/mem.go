package state

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/npw-dev/npw/internal/registry"
)

func init() { Register("mem", openMem) }

var memStores registry.Instances[*MemDriver]

// openMem returns the process's memory store of that name (mem:// is "").
func openMem(_ context.Context, u *url.URL) (Driver, error) {
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return nil, fmt.Errorf("a memory state URL is mem:// or mem://name")
	}
	return memStores.Get(u.Host, NewMemDriver), nil
}

// A MemDriver keeps job state in maps; each transition holds the job's lock.
// Records expire by the real clock.
type MemDriver struct {
	mu      sync.Mutex
	jobs    map[string]*memJob
	records map[string]memRecord
}

type memRecord struct {
	data    []byte
	expires time.Time // zero: never
}

func (r memRecord) expired(now time.Time) bool { return !r.expires.IsZero() && !now.Before(r.expires) }

type memJob struct {
	mu       sync.Mutex
	spec     Job
	phase    Phase
	err      string
	done     map[string]bool
	ndone    int64
	parents  map[string]map[string]bool // waiting child -> parents done
	next     map[string]string          // task -> the child its worker continued with
	tiles    map[string]*memTile
	failures map[string]int
	metrics  Metrics
	scratch  int64
	peak     int64
	reports  [][]byte
	beats    map[string]time.Time // worker -> last heartbeat
	usage    map[string][]byte    // member -> its last usage
}

type memTile struct {
	readers  int
	bytes    int64
	released map[string]bool
	freed    bool
}

// NewMemDriver returns an empty memory state store.
func NewMemDriver() *MemDriver {
	return &MemDriver{jobs: map[string]*memJob{}, records: map[string]memRecord{}}
}

func (d *MemDriver) job(id string) (*memJob, error) {
	d.mu.Lock()
	j, ok := d.jobs[id]
	d.mu.Unlock()
	if !ok {
		return nil, ErrNoJob
	}
	return j, nil
}

// CreateJob implements Driver.
func (d *MemDriver) CreateJob(_ context.Context, job Job) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.jobs[job.ID]; ok {
		return fmt.Errorf("job %s exists", job.ID)
	}
	phase := Running
	if job.Tasks == 0 {
		phase = Done
	}
	d.jobs[job.ID] = &memJob{spec: job, phase: phase, done: map[string]bool{},
		parents: map[string]map[string]bool{}, next: map[string]string{}, tiles: map[string]*memTile{}, failures: map[string]int{},
		beats: map[string]time.Time{}, usage: map[string][]byte{}}
	return nil
}

// Complete implements Driver.
func (d *MemDriver) Complete(_ context.Context, id string, c Completion) (Outcome, error) {
	j, err := d.job(id)
	if err != nil {
		return Outcome{}, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	out := Outcome{First: !j.done[c.Task]}
	if out.First {
		j.done[c.Task] = true
		j.ndone++
		j.metrics.Add(c.Metrics)
		delete(j.parents, c.Task)
		if c.Continued != "" {
			j.next[c.Task] = c.Continued
		}
		for _, t := range c.Written {
			if _, ok := j.tiles[t.Key]; !ok {
				j.tiles[t.Key] = &memTile{readers: t.Readers, bytes: t.Bytes, released: map[string]bool{}}
				j.scratch += t.Bytes
				j.peak = max(j.peak, j.scratch)
			}
		}
	}
	for _, t := range c.Written {
		if tile := j.tiles[t.Key]; tile != nil && j.free(tile) {
			out.Free = append(out.Free, t.Key)
		}
	}
	for _, key := range c.Released {
		tile := j.tiles[key]
		if tile == nil {
			continue // not a scratch tile of this job
		}
		if !tile.freed {
			tile.released[c.Task] = true
		}
		if j.free(tile) {
			out.Free = append(out.Free, key)
		}
	}
	for _, e := range c.Children {
		if j.done[e.Child] {
			continue
		}
		set := j.parents[e.Child]
		if set == nil {
			set = map[string]bool{}
			j.parents[e.Child] = set
		}
		set[c.Task] = true
		if len(set) >= e.Indegree {
			out.Ready = append(out.Ready, e.Child)
		}
	}
	if j.ndone >= j.spec.Tasks && j.phase == Running {
		j.phase = Done
	}
	out.Phase = j.phase
	out.Continued = j.next[c.Task]
	return out, nil
}

// ReadyAfter implements Driver.
func (d *MemDriver) ReadyAfter(_ context.Context, id, parent string, children []Edge) ([]string, error) {
	j, err := d.job(id)
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	var ready []string
	for _, e := range children {
		if j.done[e.Child] {
			continue
		}
		others := len(j.parents[e.Child])
		if j.parents[e.Child][parent] {
			others--
		}
		if others+1 >= e.Indegree {
			ready = append(ready, e.Child)
		}
	}
	return ready, nil
}

// free reports whether every reader of the tile has released it, and
// accounts the tile as freed the first time.
func (j *memJob) free(t *memTile) bool {
	if !t.freed && len(t.released) >= t.readers {
		t.freed = true
		t.released = nil
		j.scratch -= t.bytes
	}
	return t.freed
}

// IsDone implements Driver.
func (d *MemDriver) IsDone(_ context.Context, id, task string) (bool, error) {
	j, err := d.job(id)
	if err != nil {
		return false, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.done[task], nil
}

// RecordFailure implements Driver.
func (d *MemDriver) RecordFailure(_ context.Context, id, task string) (int, error) {
	j, err := d.job(id)
	if err != nil {
		return 0, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.failures[task]++
	return j.failures[task], nil
}

// Fail implements Driver.
func (d *MemDriver) Fail(_ context.Context, id, msg string) error {
	j, err := d.job(id)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.phase == Running {
		j.phase, j.err = Failed, msg
	}
	return nil
}

// Status implements Driver.
func (d *MemDriver) Status(_ context.Context, id string) (Status, error) {
	j, err := d.job(id)
	if err != nil {
		return Status{}, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return Status{Phase: j.phase, Tasks: j.spec.Tasks, Done: j.ndone, Error: j.err, Metrics: j.metrics,
		ScratchBytes: j.scratch, PeakScratchBytes: j.peak, Workers: int64(len(j.reports))}, nil
}

// AddWorkerReport implements Driver.
func (d *MemDriver) AddWorkerReport(_ context.Context, id string, report []byte) error {
	j, err := d.job(id)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.reports = append(j.reports, slices.Clone(report))
	return nil
}

// WorkerReports implements Driver.
func (d *MemDriver) WorkerReports(_ context.Context, id string) ([][]byte, error) {
	j, err := d.job(id)
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.reports), nil
}

// Delete implements Driver.
func (d *MemDriver) Delete(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.jobs, id)
	return nil
}

// PutRecord implements Driver.
func (d *MemDriver) PutRecord(_ context.Context, id string, record []byte, ttl time.Duration) error {
	r := memRecord{data: slices.Clone(record)}
	if ttl > 0 {
		r.expires = time.Now().Add(ttl)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.records[id] = r
	return nil
}

// Record implements Driver.
func (d *MemDriver) Record(_ context.Context, id string) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.records[id]
	if ok && r.expired(time.Now()) {
		delete(d.records, id)
		ok = false
	}
	if !ok {
		return nil, ErrNoJob
	}
	return slices.Clone(r.data), nil
}

// Jobs implements Driver.
func (d *MemDriver) Jobs(context.Context) ([]string, error) {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := []string{}
	for id, r := range d.records {
		if r.expired(now) {
			delete(d.records, id)
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// DeleteRecord implements Driver.
func (d *MemDriver) DeleteRecord(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.records, id)
	return nil
}

// Heartbeat implements Driver.
func (d *MemDriver) Heartbeat(_ context.Context, id, worker string, now time.Time) error {
	j, err := d.job(id)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.beats[worker] = now
	return nil
}

// Retire implements Driver.
func (d *MemDriver) Retire(_ context.Context, id, worker string) error {
	j, err := d.job(id)
	if err != nil {
		return nil // an unknown job has no workers to forget
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	delete(j.beats, worker)
	return nil
}

// Workers implements Driver.
func (d *MemDriver) Workers(_ context.Context, id string, since time.Time) ([]string, error) {
	j, err := d.job(id)
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	workers := []string{}
	for w, at := range j.beats {
		if !at.Before(since) {
			workers = append(workers, w)
		}
	}
	slices.Sort(workers)
	return workers, nil
}

// PutUsage implements Driver.
func (d *MemDriver) PutUsage(_ context.Context, id, member string, usage []byte) error {
	j, err := d.job(id)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.usage[member] = slices.Clone(usage)
	return nil
}

// Usage implements Driver.
func (d *MemDriver) Usage(_ context.Context, id string) (map[string][]byte, error) {
	j, err := d.job(id)
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make(map[string][]byte, len(j.usage))
	for m, u := range j.usage {
		out[m] = slices.Clone(u)
	}
	return out, nil
}

// Tracked returns the number of jobs with task state (created and not
// deleted), for tests of cleanup; records are not counted.
func (d *MemDriver) Tracked() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.jobs)
}

// Close implements Driver.
func (d *MemDriver) Close() error { return nil }
