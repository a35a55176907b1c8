package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/job"
)

// An outputPath is a file a command writes, and the flag that names it.
type outputPath struct{ flag, path string }

// checkOutputs makes sure, before any work starts, that every named file
// can be written: its directory exists and the file can be created (an
// existing file is opened for writing and left as it is). Nothing is
// left behind.
func checkOutputs(paths ...outputPath) error {
	for _, p := range paths {
		if p.path == "" {
			continue
		}
		if isURL(p.path) {
			// Reach the store now, rather than after the job.
			s, _, err := blockstore.OpenURL(context.Background(), p.path, true)
			if err != nil {
				return fmt.Errorf("%s: %w", p.flag, err)
			}
			s.Close()
			continue
		}
		if err := canWrite(p.path); err != nil {
			return fmt.Errorf("%s %s: %w", p.flag, p.path, err)
		}
	}
	return nil
}

func canWrite(path string) error {
	dir := filepath.Dir(path)
	switch fi, err := os.Stat(dir); {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no directory %s", dir)
	case err != nil:
		return cause(err)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return errors.New("a directory is in the way")
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return cause(err)
		}
		return f.Close()
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return cause(err)
	}
	f.Close()
	return os.Remove(path)
}

// cause strips the operation and path from a file error; the message
// that carries it names them.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// writeTimeline writes the provisioner's samples of the jobs as CSV, in
// seconds since the first job started.
func writeTimeline(path string, results []*job.Result) error {
	var b strings.Builder
	b.WriteString("seconds,pending,in_flight,running,launched\n")
	for _, res := range results {
		at := timelineStart(res).Sub(results[0].Started)
		for _, s := range res.Timeline {
			fmt.Fprintf(&b, "%.3f,%d,%d,%d,%d\n", (at + s.At).Seconds(), s.Pending, s.InFlight, s.Running, s.Launched)
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// writeTrace writes the workers' task spans as CSV, one row per task in
// the order the tasks began, in seconds since the first job started.
func writeTrace(path string, results []*job.Result) error {
	type row struct {
		job int
		w   string
		s   executor.Span
	}
	var rows []row
	for i, res := range results {
		for _, w := range res.Workers {
			for _, s := range w.Spans {
				rows = append(rows, row{i, w.Worker, s})
			}
		}
	}
	slices.SortStableFunc(rows, func(a, b row) int { return a.s.Leased.Compare(b.s.Leased) })
	// Rows come from results, so results[0] exists when sec is called.
	sec := func(t time.Time) string { return strconv.FormatFloat(t.Sub(results[0].Started).Seconds(), 'f', 4, 64) }
	var b strings.Builder
	b.WriteString("job,task,worker,leased,read,computed,written,done\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%d,%q,%q,%s,%s,%s,%s,%s\n", r.job, r.s.Task, r.w, sec(r.s.Leased), sec(r.s.Read), sec(r.s.Computed), sec(r.s.Written), sec(r.s.Done))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// timelineStart is when res's timeline samples count from.
func timelineStart(res *job.Result) time.Time {
	if res.TimelineStart.IsZero() {
		return res.Started
	}
	return res.TimelineStart
}
