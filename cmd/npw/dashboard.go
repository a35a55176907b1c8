package main

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/spf13/cobra"

	engine "github.com/npw-dev/npw"
	"github.com/npw-dev/npw/internal/dashboard"
)

// defaultDashboard is where the dashboard listens unless told: loopback,
// on a port of the system's choosing.
const defaultDashboard = "127.0.0.1:0"

func newDashboardCmd() *cobra.Command {
	var opts jobFlags
	var addr string
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Serve a live page of the jobs in a state store",
		Long: `Dashboard serves a web page of the jobs in the state store: for each, its
progress, workers, queued and in-flight tasks and GFLOP/s over time (a
chart redrawn every second), its tasks by kernel, and its cost once it
has ended. It reads the state store and the jobs' queues once a second
and keeps their history while it runs; it listens on loopback unless
--addr says otherwise, and stops on an interrupt. A job command shows
the same page for its own jobs with --dashboard.`,
		Example: `  npw dashboard --state redis://127.0.0.1:6379/0
  npw dashboard --addr 127.0.0.1:8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			url, done, err := serveDashboard(cmd.Context(), addr, opts.state, defaultCost)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "npw: dashboard at %s (stop with ^C)\n", url)
			<-done
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", defaultDashboard, "listen on `HOST:PORT` (port 0 picks a free one)")
	opts.register(cmd)
	return cmd
}

// serveDashboard opens the state store at stateURL and serves the
// dashboard of its jobs on addr until ctx ends; jobs that have ended are
// priced with c.
func serveDashboard(ctx context.Context, addr, stateURL string, c costFlags) (string, <-chan struct{}, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", nil, usagef("--addr %q: want HOST:PORT, such as 127.0.0.1:8080", addr)
	}
	st, err := engine.OpenState(ctx, stateURL)
	if err != nil {
		return "", nil, err
	}
	srv := &dashboard.Server{State: st, Cost: func(snap engine.JobSnapshot) string {
		_, line := c.jobCost(snap)
		return line
	}}
	url, served, err := srv.Listen(ctx, addr)
	if err != nil {
		st.Close()
		return "", nil, fmt.Errorf("dashboard: %w", err)
	}
	done := make(chan struct{})
	go func() {
		<-served
		st.Close()
		close(done)
	}()
	return url, done, nil
}

// startDashboard serves the dashboard for a job command's session, if
// --dashboard asked, and says where on log; stop ends it.
func (e *engineFlags) startDashboard(ctx context.Context, log io.Writer) (stop func(), err error) {
	if e.dashboard == "" {
		return func() {}, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	url, done, err := serveDashboard(ctx, e.dashboard, e.state, e.cost)
	if err != nil {
		cancel()
		return nil, err
	}
	fmt.Fprintf(log, "npw: dashboard at %s\n", url)
	return func() { cancel(); <-done }, nil
}
