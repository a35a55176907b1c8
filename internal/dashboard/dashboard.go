// Package dashboard serves a live page of the jobs in a state store: for
// each, its progress, workers, queue and GFLOP/s over time (charts drawn
// with gonum/plot), its tasks by kernel, and its cost (so far while it runs).
// A sampler reads the state store (and each job's queue, for its depth)
// every interval and keeps the job's history in memory; the page polls a
// JSON endpoint and reloads the charts. Routing is net/http's ServeMux.
package dashboard

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/npw-dev/npw/clock"
	"github.com/npw-dev/npw/internal/chart"
	"github.com/npw-dev/npw/job"
	"github.com/npw-dev/npw/manifest"
	"github.com/npw-dev/npw/queue"
	"github.com/npw-dev/npw/state"
)

//go:embed index.html
var indexHTML []byte

// A Server samples the jobs of one state store and serves the page.
type Server struct {
	State    *state.Store
	Interval time.Duration // between samples (default 1 s)
	Keep     int           // samples kept per job (default 3600)
	// Cost, when set, prices a job in one line: what it has cost so far
	// while it runs (Snapshot.Usage), its bill once it has ended.
	Cost  func(snap job.Snapshot) string
	Clock clock.Clock // default clock.Real
	Log   *slog.Logger

	mu   sync.Mutex
	jobs map[string]*Job
}

// A Sample is one reading of a job.
type Sample struct {
	At       float64 `json:"at"` // seconds since the job was created
	Done     int64   `json:"done"`
	Workers  int     `json:"workers"`
	Queued   int     `json:"queued"`
	InFlight int     `json:"in_flight"`
	GFlops   float64 `json:"gflops"` // over the last interval
}

// A Job is what the page shows of one job.
type Job struct {
	ID      string            `json:"id"`
	Program string            `json:"program"`
	Phase   string            `json:"phase"`
	Error   string            `json:"error,omitempty"`
	Tasks   int64             `json:"tasks"`
	Done    int64             `json:"done"`
	Workers []string          `json:"workers"`
	Kernels []job.KernelCount `json:"kernels"`
	GFlops  float64           `json:"gflops"` // mean since the job began
	Elapsed float64           `json:"elapsed_seconds"`
	Cost    string            `json:"cost,omitempty"`
	Samples []Sample          `json:"samples"`
	Created time.Time         `json:"created"`
	flops   float64           // the last sample's, for the rate
	queue   *queue.Queue      // opened once, for the depth
	seen    bool              // in the last listing
	billed  bool              // Cost is the ended job's bill
}

// Listen serves srv's page on addr (host:port; port 0 picks one) until
// ctx ends, sampling meanwhile, and returns the page's URL at once.
// Serving stops, and the sampler with it, when ctx ends; done is closed
// then.
func (s *Server) Listen(ctx context.Context, addr string) (url string, done <-chan struct{}, err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			s.Run(ctx)
		}()
		go func() {
			<-ctx.Done()
			hs.Close()
		}()
		hs.Serve(l)
		<-sampled
	}()
	return "http://" + l.Addr().String() + "/", finished, nil
}

// Run samples until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	clk := clock.Or(s.Clock)
	interval := s.Interval
	if interval <= 0 {
		interval = time.Second
	}
	tick := clk.NewTicker(interval)
	defer tick.Stop()
	defer s.closeQueues()
	for {
		if err := s.sample(ctx); err != nil && ctx.Err() == nil && s.Log != nil {
			s.Log.Warn("dashboard: sampling the state store", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C():
		}
	}
}

// sample reads every job once.
func (s *Server) sample(ctx context.Context) error {
	recs, err := job.List(ctx, s.State)
	if err != nil {
		return err
	}

	now := clock.Or(s.Clock).Now()
	keep := s.Keep
	if keep <= 0 {
		keep = 3600
	}
	s.mu.Lock()
	if s.jobs == nil {
		s.jobs = map[string]*Job{}
	}
	for _, j := range s.jobs {
		j.seen = false
	}
	s.mu.Unlock()
	for _, r := range recs {
		snap, err := job.Inspect(ctx, s.State, r.ID, now)
		if err != nil {
			continue // it ended or went since the listing
		}
		s.mu.Lock()
		j := s.jobs[r.ID]
		if j == nil {
			j = &Job{ID: r.ID, Program: r.Program, Kernels: r.Kernels, Created: r.Created}
			s.jobs[r.ID] = j
		}
		j.seen = true
		s.mu.Unlock()
		s.read(ctx, j, snap, now, keep)
	}
	s.mu.Lock()
	for id, j := range s.jobs {
		if !j.seen { // collected, cancelled or expired
			if j.queue != nil {
				j.queue.Close()
			}
			delete(s.jobs, id)
		}
	}
	s.mu.Unlock()
	return nil
}

// read takes one sample of j from its snapshot and queue.
func (s *Server) read(ctx context.Context, j *Job, snap job.Snapshot, now time.Time, keep int) {
	r := snap.Record
	smp := Sample{Done: snap.Status.Done, Workers: len(snap.Workers)}
	if snap.Running && r.End == nil {
		if j.queue == nil {
			if q, err := queue.Open(ctx, r.Queue, manifest.QueueName(r.ID)); err == nil {
				j.queue = q
			}
		}
		if j.queue != nil {
			smp.Queued, smp.InFlight, _ = j.queue.Depth(ctx)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	elapsed := now.Sub(r.Created)
	switch {
	case r.End != nil:
		j.Phase, j.Error, elapsed = string(r.End.Phase), r.End.Error, r.End.Wall
		if !j.billed && s.Cost != nil {
			j.Cost, j.billed = s.Cost(snap), true
		}
		if j.queue != nil {
			j.queue.Close()
			j.queue = nil
		}
	case !snap.Running:
		j.Phase = "ending"
	default:
		j.Phase = string(snap.Status.Phase)
		if s.Cost != nil && snap.Usage != nil {
			j.Cost = s.Cost(snap)
		}
	}
	smp.At = elapsed.Seconds()
	flops := snap.Status.Metrics.Flops
	if n := len(j.Samples); n > 0 && smp.At > j.Samples[n-1].At {
		smp.GFlops = max(0, flops-j.flops) / (smp.At - j.Samples[n-1].At) / 1e9
	}
	j.flops = flops
	j.Tasks, j.Done, j.Workers, j.Elapsed = r.Tasks, snap.Status.Done, snap.Workers, elapsed.Seconds()
	if j.Workers == nil {
		j.Workers = []string{}
	}
	j.GFlops = flops / max(elapsed.Seconds(), 1e-9) / 1e9
	if r.End == nil || len(j.Samples) == 0 || j.Samples[len(j.Samples)-1].At != smp.At {
		j.Samples = append(j.Samples, smp)
	}
	if len(j.Samples) > keep {
		j.Samples = slices.Delete(j.Samples, 0, len(j.Samples)-keep)
	}
}

func (s *Server) closeQueues() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range s.jobs {
		if j.queue != nil {
			j.queue.Close()
			j.queue = nil
		}
	}
}

// Jobs returns the jobs seen, newest first.
func (s *Server) Jobs() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Job, 0, len(s.jobs))
	for _, j := range s.jobs {
		c := *j
		c.Samples = slices.Clone(j.Samples)
		c.queue = nil
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Job) int { return b.Created.Compare(a.Created) })
	return out
}

// Handler serves the page (/), the jobs as JSON (/api/jobs) and each
// job's chart (/jobs/{id}/chart.png).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(indexHTML)
	})
	mux.HandleFunc("GET /api/jobs", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(s.Jobs())
	})
	mux.HandleFunc("GET /jobs/{id}/chart.png", func(w http.ResponseWriter, r *http.Request) {
		png, err := s.chart(r.PathValue("id"))
		if errors.Is(err, errNoJob) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(png)
	})
	return mux
}

var errNoJob = errors.New("no such job")

// chart draws a job's history: tasks done, workers, queued and in-flight
// tasks, and GFLOP/s, over its time.
func (s *Server) chart(id string) ([]byte, error) {
	s.mu.Lock()
	j := s.jobs[id]
	var samples []Sample
	var program string
	var tasks float64
	if j != nil {
		samples, program, tasks = slices.Clone(j.Samples), j.Program, max(float64(j.Tasks), 1)
	}
	s.mu.Unlock()
	if j == nil {
		return nil, errNoJob
	}
	if len(samples) == 0 {
		samples = []Sample{{}}
	}
	n := len(samples)
	x := make([]float64, n)
	series := []chart.Series{{Name: "tasks done (% of all)"}, {Name: "workers alive"}, {Name: "tasks queued"}, {Name: "tasks in flight"}, {Name: "GFLOP/s"}}
	for i := range series {
		series[i].X, series[i].Y, series[i].Steps = x, make([]float64, n), true
	}
	for i, smp := range samples {
		x[i] = smp.At
		series[0].Y[i] = 100 * float64(smp.Done) / tasks
		series[1].Y[i] = float64(smp.Workers)
		series[2].Y[i] = float64(smp.Queued)
		series[3].Y[i] = float64(smp.InFlight)
		series[4].Y[i] = smp.GFlops
	}
	return chart.Lines{Title: fmt.Sprintf("%s: %s", id, program), XLabel: "seconds", Series: series, Width: 7 * 72, Height: 3.2 * 72}.PNG()
}
