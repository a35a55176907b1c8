package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/spf13/cobra"

	engine "github.com/npw-dev/npw"
)

func newStatusCmd() *cobra.Command {
	var opts jobFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status ID",
		Short: "Show where a job stands: tasks done, workers, GFLOP/s, elapsed, ETA",
		Long: `Status reads a job from its state store, from any machine that reaches
it: its phase, tasks done of all, the workers alive (every worker of the
job sends a heartbeat, whoever started it), its GFLOP/s and elapsed
time so far, an estimate of the time left from its pace, and what it
has cost so far at AWS list prices (from the lifetimes and requests its
workers and provisioner leave with their heartbeats). A job that has
ended shows how, and its bill; --json prints one JSON object.`,
		Example: `  npw status 4cf84da5d426
  npw status 4cf84da5d426 --json`,
		Args: exactly(1, "a job id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.id = args[0]
			return runStatus(cmd.Context(), cmd.OutOrStdout(), opts, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	opts.register(cmd)
	return cmd
}

// A jobStatus is what npw status prints.
type jobStatus struct {
	ID          string   `json:"id"`
	Program     string   `json:"program"`
	Phase       string   `json:"phase"`
	Error       string   `json:"error,omitempty"`
	Tasks       int64    `json:"tasks"`
	Done        int64    `json:"done"`
	Workers     []string `json:"workers"`
	GFlops      float64  `json:"gflops"`
	Elapsed     float64  `json:"elapsed_seconds"`
	ETA         float64  `json:"eta_seconds,omitempty"` // while running, once a task is done
	Provisioner string   `json:"provisioner,omitempty"`
	// WorkerSeconds and Cost: its workers' billed lifetimes and its bill
	// (see the summary's cost line) once it has ended; while it runs,
	// both so far (Cost.SoFar), up to its workers' last heartbeats.
	WorkerSeconds float64       `json:"worker_seconds,omitempty"`
	Cost          *costEstimate `json:"cost,omitempty"`
	costLine      string
}

func runStatus(ctx context.Context, stdout io.Writer, opts jobFlags, asJSON bool) error {
	snap, err := engine.Inspect(ctx, opts.state, opts.id)
	if err != nil {
		return err
	}
	s := statusOf(snap, time.Now())
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	printStatus(stdout, s)
	return nil
}

// statusOf derives the figures of a snapshot taken at now.
func statusOf(snap engine.JobSnapshot, now time.Time) jobStatus {
	r := snap.Record
	s := jobStatus{ID: r.ID, Program: r.Program, Tasks: r.Tasks, Done: snap.Status.Done, Workers: snap.Workers, Provisioner: r.Provisioner}
	if s.Workers == nil {
		s.Workers = []string{}
	}
	elapsed := now.Sub(r.Created)
	switch {
	case r.End != nil:
		s.Phase, s.Error, elapsed = string(r.End.Phase), r.End.Error, r.End.Wall
	case !snap.Running:
		s.Phase = "ending"
	default:
		s.Phase = string(snap.Status.Phase)
		if s.Done > 0 && s.Done < s.Tasks {
			s.ETA = elapsed.Seconds() * float64(s.Tasks-s.Done) / float64(s.Done)
		}
	}
	s.Cost, s.costLine = defaultCost.jobCost(snap)
	if s.Cost != nil {
		s.WorkerSeconds = s.Cost.WorkerSeconds
	}
	s.Elapsed = elapsed.Seconds()
	s.GFlops = snap.Status.Metrics.Flops / math.Max(s.Elapsed, 1e-9) / 1e9
	return s
}

func printStatus(w io.Writer, s jobStatus) {
	row := func(name, format string, args ...any) {
		fmt.Fprintf(w, "  %-12s %s\n", name, fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(w, "job %s: %s\n", s.ID, s.Program)
	row("phase", "%s%s", s.Phase, map[bool]string{true: ": " + s.Error}[s.Error != ""])
	row("tasks", "%d of %d done (%.0f%%)", s.Done, s.Tasks, 100*float64(s.Done)/math.Max(float64(s.Tasks), 1))
	row("workers", "%d alive%s", len(s.Workers), listText(s.Workers))
	row("throughput", "%.2f GFLOP/s", s.GFlops)
	eta := ""
	if s.ETA > 0 {
		eta = fmt.Sprintf(", about %s left at this pace", (time.Duration(s.ETA) * time.Second).Round(time.Second))
	}
	row("elapsed", "%s%s", (time.Duration(s.Elapsed * float64(time.Second))).Round(100*time.Millisecond), eta)
	if s.Provisioner != "" {
		row("provisioner", "%s", s.Provisioner)
	}
	switch {
	case s.Cost != nil:
		soFar := ""
		if s.Cost.SoFar {
			soFar = " so far"
		}
		row("billed", "%.1f worker-seconds%s", s.WorkerSeconds, soFar)
		row("cost", "%s", s.costLine)
	case s.costLine != "":
		row("cost", "%s", s.costLine)
	}
}

func listText(names []string) string {
	if len(names) == 0 {
		return ""
	}
	if len(names) > 8 {
		names = append(names[:8:8], "...")
	}
	return " (" + strings.Join(names, ", ") + ")"
}
