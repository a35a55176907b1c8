package sim

import (
	"fmt"
	"slices"
	"strings"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/job"
	"github.com/npw-dev/npw/provisioner"
	"github.com/npw-dev/npw/state"
)

// outcome is the run as a real job reports it.
func (s *sim) outcome() *job.Result {
	plan := s.cfg.Plan
	res := &job.Result{
		ID:            "simulated",
		Program:       strings.TrimSpace(plan.Program().Name + " " + analysis.ArgString(plan.Args())),
		Started:       s.epoch,
		TimelineStart: s.epoch,
		Wall:          dur(s.endAt),
		Timeline:      append(s.samples, provisioner.Sample{At: dur(s.endAt), Pending: s.queue.Len(), InFlight: s.inflight, Running: s.running}),
		Status:        state.Status{Phase: state.Done, Tasks: s.total, Done: int64(len(s.done))},
	}
	stmts := make([]uint16, 0, len(s.byStmt))
	for st := range s.byStmt {
		stmts = append(stmts, st)
	}
	slices.Sort(stmts)
	for _, st := range stmts {
		name := plan.Kernel(analysis.Node{Stmt: st})
		i := slices.IndexFunc(res.TasksByKernel, func(k job.KernelCount) bool { return k.Kernel == name })
		if i < 0 {
			res.TasksByKernel = append(res.TasksByKernel, job.KernelCount{Kernel: name})
			i = len(res.TasksByKernel) - 1
		}
		res.TasksByKernel[i].Tasks += s.byStmt[st]
	}
	var reqs executor.Requests
	for _, w := range s.workers {
		started, stopped := w.started, w.stopped
		if !w.gone { // still starting when the job ended: it sees the end at once
			stopped = max(s.endAt, w.startAt)
		}
		if started == 0 && !w.alive {
			started = min(w.startAt, stopped)
		}
		rep := w.rep
		rep.Worker = fmt.Sprintf("sim%d", w.id)
		rep.Started, rep.Stopped = s.time(started), s.time(stopped)
		rep.Reason = w.reason
		if rep.Reason == "" {
			rep.Reason = "job done"
		}
		rep.Metrics = w.m
		rep.Requests = w.reqs
		rep.BLAS = "simulated"
		res.Workers = append(res.Workers, provisioner.WorkerReport{Report: rep, Launched: s.time(w.launched)})
		res.Status.Metrics.Add(w.m)
		reqs.Add(w.reqs)
	}
	reqs.Queue += s.provReqs
	res.Traffic = job.TrafficStats{TileGets: reqs.TileGetClass, TilePuts: reqs.TilePutClass, StateRequests: reqs.State, Requests: reqs}
	for _, k := range s.kills {
		res.Kills = append(res.Kills, job.Kill{At: dur(k.at), Killed: k.killed})
	}
	return res
}
