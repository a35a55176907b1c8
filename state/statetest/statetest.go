// Package statetest is the conformance suite every state-store driver
// passes.
package statetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/npw-dev/npw/state"
)

// Run checks a driver; newDriver returns a driver with no jobs of the
// names the suite uses (each subtest uses a job id of its own).
func Run(t *testing.T, newDriver func(t *testing.T) state.Driver) {
	ctx := context.Background()
	create := func(t *testing.T, d state.Driver, id string, tasks int64) {
		t.Helper()
		if err := d.CreateJob(ctx, state.Job{ID: id, Tasks: tasks}); err != nil {
			t.Fatal(err)
		}
	}
	complete := func(t *testing.T, d state.Driver, id string, c state.Completion) state.Outcome {
		t.Helper()
		out, err := d.Complete(ctx, id, c)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Run("CreateAndStatus", func(t *testing.T) {
		d := newDriver(t)
		create(t, d, "j-create", 4)
		if err := d.CreateJob(ctx, state.Job{ID: "j-create", Tasks: 4}); err == nil {
			t.Error("creating a job twice succeeded")
		}
		st, err := d.Status(ctx, "j-create")
		if err != nil || st.Phase != state.Running || st.Tasks != 4 || st.Done != 0 {
			t.Fatalf("status of a new job: %+v, %v", st, err)
		}
	})
	t.Run("Diamond", func(t *testing.T) {
		// A -> B, C; B, C -> D.
		d := newDriver(t)
		create(t, d, "j-diamond", 4)
		out := complete(t, d, "j-diamond", state.Completion{Task: "A", Children: []state.Edge{{Child: "B", Indegree: 1}, {Child: "C", Indegree: 1}}})
		if !out.First || !sameSet(out.Ready, "B", "C") || out.Phase != state.Running {
			t.Fatalf("A: %+v", out)
		}
		out = complete(t, d, "j-diamond", state.Completion{Task: "B", Children: []state.Edge{{Child: "D", Indegree: 2}}})
		if len(out.Ready) != 0 {
			t.Fatalf("B: D ready with one of two parents: %+v", out)
		}
		// A replay of B reports nothing new and counts nothing.
		out = complete(t, d, "j-diamond", state.Completion{Task: "B", Children: []state.Edge{{Child: "D", Indegree: 2}}})
		if out.First || len(out.Ready) != 0 {
			t.Fatalf("replayed B: %+v", out)
		}
		out = complete(t, d, "j-diamond", state.Completion{Task: "C", Children: []state.Edge{{Child: "D", Indegree: 2}}})
		if !sameSet(out.Ready, "D") {
			t.Fatalf("C: %+v", out)
		}
		// Replaying C (a crash before it enqueued D) reports D again.
		out = complete(t, d, "j-diamond", state.Completion{Task: "C", Children: []state.Edge{{Child: "D", Indegree: 2}}})
		if out.First || !sameSet(out.Ready, "D") {
			t.Fatalf("replayed C: %+v", out)
		}
		if done, _ := d.IsDone(ctx, "j-diamond", "D"); done {
			t.Fatal("D is done before it ran")
		}
		out = complete(t, d, "j-diamond", state.Completion{Task: "D"})
		if out.Phase != state.Done {
			t.Fatalf("D: %+v", out)
		}
		// Once D is done, a late replay of C no longer offers it.
		out = complete(t, d, "j-diamond", state.Completion{Task: "C", Children: []state.Edge{{Child: "D", Indegree: 2}}})
		if len(out.Ready) != 0 || out.Phase != state.Done {
			t.Fatalf("late replay of C: %+v", out)
		}
		st, _ := d.Status(ctx, "j-diamond")
		if st.Done != 4 || st.Phase != state.Done {
			t.Fatalf("final status %+v", st)
		}
		for _, task := range []string{"A", "B", "C", "D"} {
			if done, err := d.IsDone(ctx, "j-diamond", task); !done || err != nil {
				t.Errorf("IsDone(%s) = %v, %v", task, done, err)
			}
		}
	})
	t.Run("ReadyAfterAndContinued", func(t *testing.T) {
		// A, B -> C; A -> D; C -> E. A's worker continues with D.
		d := newDriver(t)
		create(t, d, "j-next", 5)
		ab := []state.Edge{{Child: "C", Indegree: 2}, {Child: "D", Indegree: 1}}
		ready, err := d.ReadyAfter(ctx, "j-next", "A", ab)
		if err != nil || !sameSet(ready, "D") {
			t.Fatalf("before B: ReadyAfter(A) = %v, %v; want [D]", ready, err)
		}
		complete(t, d, "j-next", state.Completion{Task: "B", Children: []state.Edge{{Child: "C", Indegree: 2}}})
		if ready, _ = d.ReadyAfter(ctx, "j-next", "A", ab); !sameSet(ready, "C", "D") {
			t.Fatalf("after B: ReadyAfter(A) = %v, want [C D]", ready)
		}
		if st, _ := d.Status(ctx, "j-next"); st.Done != 1 {
			t.Fatalf("ReadyAfter changed the job: %+v", st)
		}
		out := complete(t, d, "j-next", state.Completion{Task: "A", Children: ab, Continued: "D"})
		if !out.First || !sameSet(out.Ready, "C", "D") || out.Continued != "D" {
			t.Fatalf("A: %+v", out)
		}
		// A replay finds the continuation, whatever it says itself.
		if out = complete(t, d, "j-next", state.Completion{Task: "A", Children: ab}); out.First || out.Continued != "D" {
			t.Fatalf("replayed A: %+v", out)
		}
		complete(t, d, "j-next", state.Completion{Task: "D"})
		if out = complete(t, d, "j-next", state.Completion{Task: "A", Children: ab, Continued: "C"}); out.Continued != "D" || !sameSet(out.Ready, "C") {
			t.Fatalf("A replayed after D: %+v", out)
		}
		if ready, _ = d.ReadyAfter(ctx, "j-next", "A", ab); !sameSet(ready, "C") {
			t.Fatalf("ReadyAfter(A) once D is done = %v, want [C]", ready)
		}
		if out = complete(t, d, "j-next", state.Completion{Task: "B"}); out.Continued != "" {
			t.Fatalf("B has no continuation: %+v", out)
		}
		if _, err := d.ReadyAfter(ctx, "j-never", "A", ab); !errors.Is(err, state.ErrNoJob) {
			t.Errorf("ReadyAfter in an unknown job: %v", err)
		}
	})
	t.Run("MetricsOncePerTask", func(t *testing.T) {
		d := newDriver(t)
		create(t, d, "j-metrics", 2)
		m := state.Metrics{Flops: 1e9, BytesRead: 10, BytesWritten: 20, ReadSeconds: 0.5, ComputeSeconds: 1.5, WriteSeconds: 0.25, CacheHits: 3}
		for range 3 {
			complete(t, d, "j-metrics", state.Completion{Task: "x", Metrics: m})
		}
		complete(t, d, "j-metrics", state.Completion{Task: "y", Metrics: m})
		st, _ := d.Status(ctx, "j-metrics")
		want := state.Metrics{Flops: 2e9, BytesRead: 20, BytesWritten: 40, ReadSeconds: 1, ComputeSeconds: 3, WriteSeconds: 0.5, CacheHits: 6}
		if st.Metrics != want {
			t.Fatalf("metrics %+v, want %+v", st.Metrics, want)
		}
	})
	t.Run("ScratchTiles", func(t *testing.T) {
		d := newDriver(t)
		create(t, d, "j-tiles", 4)
		// A writes t1 (read by B and C), t0 (read by nobody) and tz (read
		// by nobody, so never stored: no bytes).
		out := complete(t, d, "j-tiles", state.Completion{Task: "A",
			Written: []state.Tile{{Key: "t1", Readers: 2, Bytes: 100}, {Key: "t0", Readers: 0, Bytes: 50}, {Key: "tz"}}})
		if !sameSet(out.Free, "t0", "tz") {
			t.Fatalf("A: free %v, want [t0 tz]", out.Free)
		}
		st, _ := d.Status(ctx, "j-tiles")
		if st.ScratchBytes != 100 || st.PeakScratchBytes != 150 {
			t.Fatalf("after A: scratch %d peak %d, want 100 and 150", st.ScratchBytes, st.PeakScratchBytes)
		}
		if out = complete(t, d, "j-tiles", state.Completion{Task: "B", Released: []string{"t1"}}); len(out.Free) != 0 {
			t.Fatalf("B: t1 freed with a reader left: %v", out.Free)
		}
		if out = complete(t, d, "j-tiles", state.Completion{Task: "B", Released: []string{"t1"}}); len(out.Free) != 0 {
			t.Fatalf("replayed B freed t1: %v", out.Free)
		}
		if out = complete(t, d, "j-tiles", state.Completion{Task: "C", Released: []string{"t1", "input-tile"}}); !sameSet(out.Free, "t1") {
			t.Fatalf("C: free %v, want [t1]", out.Free)
		}
		if out = complete(t, d, "j-tiles", state.Completion{Task: "C", Released: []string{"t1"}}); !sameSet(out.Free, "t1") {
			t.Fatalf("replayed C: free %v, want [t1] again", out.Free)
		}
		st, _ = d.Status(ctx, "j-tiles")
		if st.ScratchBytes != 0 || st.PeakScratchBytes != 150 {
			t.Fatalf("at the end: scratch %d peak %d", st.ScratchBytes, st.PeakScratchBytes)
		}
	})
	t.Run("Failures", func(t *testing.T) {
		d := newDriver(t)
		create(t, d, "j-fail", 3)
		for want := 1; want <= 3; want++ {
			if n, err := d.RecordFailure(ctx, "j-fail", "t"); n != want || err != nil {
				t.Fatalf("attempt %d: %d, %v", want, n, err)
			}
		}
		if n, _ := d.RecordFailure(ctx, "j-fail", "other"); n != 1 {
			t.Fatalf("failures are counted per task, got %d", n)
		}
		if err := d.Fail(ctx, "j-fail", "first error"); err != nil {
			t.Fatal(err)
		}
		if err := d.Fail(ctx, "j-fail", "second error"); err != nil {
			t.Fatal(err)
		}
		for _, task := range []string{"a", "b", "c"} {
			complete(t, d, "j-fail", state.Completion{Task: task})
		}
		st, _ := d.Status(ctx, "j-fail")
		if st.Phase != state.Failed || st.Error != "first error" {
			t.Fatalf("status %+v: want failed with the first error", st)
		}
	})
	t.Run("WorkerReports", func(t *testing.T) {
		d := newDriver(t)
		create(t, d, "j-reports", 1)
		for _, r := range []string{`{"worker":"a"}`, `{"worker":"b"}`} {
			if err := d.AddWorkerReport(ctx, "j-reports", []byte(r)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := d.WorkerReports(ctx, "j-reports")
		if err != nil || len(got) != 2 || string(got[0]) != `{"worker":"a"}` || string(got[1]) != `{"worker":"b"}` {
			t.Fatalf("reports %q, %v", got, err)
		}
		if st, _ := d.Status(ctx, "j-reports"); st.Workers != 2 {
			t.Fatalf("status counts %d worker reports, want 2", st.Workers)
		}
		if err := d.AddWorkerReport(ctx, "j-never", []byte("{}")); !errors.Is(err, state.ErrNoJob) {
			t.Errorf("report to an unknown job: %v", err)
		}
	})
	t.Run("UnknownAndDeleted", func(t *testing.T) {
		d := newDriver(t)
		if _, err := d.Status(ctx, "j-never"); !errors.Is(err, state.ErrNoJob) {
			t.Errorf("status of an unknown job: %v", err)
		}
		if _, err := d.Complete(ctx, "j-never", state.Completion{Task: "a"}); !errors.Is(err, state.ErrNoJob) {
			t.Errorf("complete in an unknown job: %v", err)
		}
		create(t, d, "j-delete", 1)
		complete(t, d, "j-delete", state.Completion{Task: "a", Written: []state.Tile{{Key: "k", Readers: 1}}})
		if err := d.Delete(ctx, "j-delete"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Status(ctx, "j-delete"); !errors.Is(err, state.ErrNoJob) {
			t.Errorf("status of a deleted job: %v", err)
		}
	})
	t.Run("Records", func(t *testing.T) {
		d := newDriver(t)
		if _, err := d.Record(ctx, "rec-a"); !errors.Is(err, state.ErrNoJob) {
			t.Fatalf("record of a job without one: %v", err)
		}
		putRecord(t, d, "rec-b", `{"v":1}`, 0)
		a := []byte(`{"a":1}`)
		putRecord(t, d, "rec-a", string(a), 0)
		a[1] = 'X' // the store keeps its own copy
		wantRecord(t, d, "rec-a", `{"a":1}`)
		wantRecord(t, d, "rec-b", `{"v":1}`)
		putRecord(t, d, "rec-b", `{"v":2}`, 0)
		wantRecord(t, d, "rec-b", `{"v":2}`)
		wantJobs(t, d, "rec-", "rec-a", "rec-b")
		// A record needs no task state, and makes none.
		if _, err := d.Status(ctx, "rec-a"); !errors.Is(err, state.ErrNoJob) {
			t.Errorf("a record made task state: status %v", err)
		}
		if err := d.DeleteRecord(ctx, "rec-a"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Record(ctx, "rec-a"); !errors.Is(err, state.ErrNoJob) {
			t.Errorf("record after DeleteRecord: %v", err)
		}
		wantJobs(t, d, "rec-", "rec-b")
		for _, id := range []string{"rec-a", "rec-never"} {
			if err := d.DeleteRecord(ctx, id); err != nil {
				t.Errorf("DeleteRecord of a missing record %s: %v", id, err)
			}
		}
		if err := d.DeleteRecord(ctx, "rec-b"); err != nil {
			t.Fatal(err)
		}
		wantJobs(t, d, "rec-")
	})
	t.Run("RecordExpiry", func(t *testing.T) {
		d := newDriver(t)
		putRecord(t, d, "exp-kept", `{"kept":true}`, 0)
		putRecord(t, d, "exp-long", `{"long":true}`, time.Hour)
		// A put with no ttl replaces an expiry set earlier.
		putRecord(t, d, "exp-persist", `{"v":1}`, 50*time.Millisecond)
		putRecord(t, d, "exp-persist", `{"v":2}`, 0)
		putRecord(t, d, "exp-short", `{"short":true}`, 50*time.Millisecond)
		// Expiry may take a while to be seen: poll, up to a deadline far
		// beyond the ttl.
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, err := d.Record(ctx, "exp-short")
			if errors.Is(err, state.ErrNoJob) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatal("a record with a ttl of 50ms is still there after 5s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		// exp-persist's first ttl, set before exp-short's, has passed too.
		wantRecord(t, d, "exp-persist", `{"v":2}`)
		wantRecord(t, d, "exp-long", `{"long":true}`)
		wantRecord(t, d, "exp-kept", `{"kept":true}`)
		wantJobs(t, d, "exp-", "exp-kept", "exp-long", "exp-persist")
		// An expired record can be put again.
		putRecord(t, d, "exp-short", `{"again":true}`, 0)
		wantRecord(t, d, "exp-short", `{"again":true}`)
		wantJobs(t, d, "exp-", "exp-kept", "exp-long", "exp-persist", "exp-short")
	})
	t.Run("RecordsApartFromTaskState", func(t *testing.T) {
		d := newDriver(t)
		create(t, d, "apart-norecord", 1)
		create(t, d, "apart-job", 2)
		putRecord(t, d, "apart-job", `{"job":"apart-job"}`, 0)
		// Jobs lists records, not task state.
		wantJobs(t, d, "apart-", "apart-job")
		if err := d.Delete(ctx, "apart-job"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Status(ctx, "apart-job"); !errors.Is(err, state.ErrNoJob) {
			t.Fatalf("status after Delete: %v", err)
		}
		wantRecord(t, d, "apart-job", `{"job":"apart-job"}`)
		wantJobs(t, d, "apart-", "apart-job")
		// And DeleteRecord leaves the task state.
		putRecord(t, d, "apart-norecord", `{}`, 0)
		if err := d.DeleteRecord(ctx, "apart-norecord"); err != nil {
			t.Fatal(err)
		}
		if st, err := d.Status(ctx, "apart-norecord"); err != nil || st.Tasks != 1 {
			t.Fatalf("status after DeleteRecord: %+v, %v", st, err)
		}
		wantJobs(t, d, "apart-", "apart-job")
	})
	t.Run("Heartbeats", func(t *testing.T) {
		d := newDriver(t)
		create(t, d, "j-beats", 1)
		t0 := time.UnixMilli(1_700_000_000_000)
		sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
		beat := func(worker string, at time.Time) {
			t.Helper()
			if err := d.Heartbeat(ctx, "j-beats", worker, at); err != nil {
				t.Fatal(err)
			}
		}
		workers := func(since time.Time, want ...string) {
			t.Helper()
			got, err := d.Workers(ctx, "j-beats", since)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("Workers(since %v) = %q, %v; want %q", since.Sub(t0), got, err, want)
			}
		}
		workers(t0)
		beat("p3", sec(0))
		beat("p1", sec(2))
		beat("p2", sec(1))
		workers(t0, "p1", "p2", "p3")
		workers(sec(1), "p1", "p2") // at or after since
		workers(sec(1).Add(time.Millisecond), "p1")
		workers(sec(3))
		beat("p3", sec(3)) // the last heartbeat counts
		workers(sec(3), "p3")
		workers(t0, "p1", "p2", "p3")
		if err := d.Retire(ctx, "j-beats", "p1"); err != nil {
			t.Fatal(err)
		}
		workers(t0, "p2", "p3")
		if err := d.Retire(ctx, "j-beats", "p-unknown"); err != nil {
			t.Errorf("retire an unknown worker: %v", err)
		}
		if err := d.Retire(ctx, "j-never", "p1"); err != nil {
			t.Errorf("retire a worker of an unknown job: %v", err)
		}
		if st, _ := d.Status(ctx, "j-beats"); st.Workers != 0 {
			t.Errorf("heartbeats counted as worker reports: %+v", st)
		}
		if err := d.Heartbeat(ctx, "j-never", "p1", t0); !errors.Is(err, state.ErrNoJob) {
			t.Errorf("heartbeat to an unknown job: %v", err)
		}
		if _, err := d.Workers(ctx, "j-never", t0); !errors.Is(err, state.ErrNoJob) {
			t.Errorf("workers of an unknown job: %v", err)
		}
		// A worker of a deleted (cancelled) job hears so at its next heartbeat.
		if err := d.Delete(ctx, "j-beats"); err != nil {
			t.Fatal(err)
		}
		if err := d.Heartbeat(ctx, "j-beats", "p2", sec(4)); !errors.Is(err, state.ErrNoJob) {
			t.Errorf("heartbeat to a deleted job: %v", err)
		}
		if _, err := d.Workers(ctx, "j-beats", t0); !errors.Is(err, state.ErrNoJob) {
			t.Errorf("workers of a deleted job: %v", err)
		}
		// Delete removed the heartbeats: a job made again under the id
		// starts with none.
		create(t, d, "j-beats", 1)
		workers(t0)
	})
	t.Run("Usage", func(t *testing.T) {
		d := newDriver(t)
		create(t, d, "j-usage", 1)
		usage := func(want map[string]string) {
			t.Helper()
			got, err := d.Usage(ctx, "j-usage")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("Usage = %q, want %q", got, want)
			}
			for m, u := range want {
				if string(got[m]) != u {
					t.Fatalf("Usage = %q, want %q", got, want)
				}
			}
		}
		usage(map[string]string{})
		put := func(member, u string) {
			t.Helper()
			if err := d.PutUsage(ctx, "j-usage", member, []byte(u)); err != nil {
				t.Fatal(err)
			}
		}
		put("p1", `{"s":1}`)
		put("provisioner h:9", `{"q":3}`)
		put("p1", `{"s":2}`) // the last replaces
		if err := d.Retire(ctx, "j-usage", "p1"); err != nil {
			t.Fatal(err)
		}
		usage(map[string]string{"p1": `{"s":2}`, "provisioner h:9": `{"q":3}`}) // a retired worker's stays
		if err := d.PutUsage(ctx, "j-never", "p1", []byte("x")); !errors.Is(err, state.ErrNoJob) {
			t.Errorf("usage put to an unknown job: %v", err)
		}
		if _, err := d.Usage(ctx, "j-never"); !errors.Is(err, state.ErrNoJob) {
			t.Errorf("usage of an unknown job: %v", err)
		}
		if err := d.Delete(ctx, "j-usage"); err != nil {
			t.Fatal(err)
		}
		create(t, d, "j-usage", 1)
		usage(map[string]string{}) // Delete removed it
	})
	t.Run("ConcurrentFanIn", func(t *testing.T) {
		// 40 parents of one child complete concurrently, each twice.
		d := newDriver(t)
		const parents = 40
		create(t, d, "j-fanin", parents+1)
		var mu sync.Mutex
		ready := 0
		var wg sync.WaitGroup
		for p := range parents {
			for range 2 {
				wg.Go(func() {
					out, err := d.Complete(ctx, "j-fanin", state.Completion{Task: fmt.Sprint("p", p), Children: []state.Edge{{Child: "child", Indegree: parents}}})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					ready += len(out.Ready)
					mu.Unlock()
				})
			}
		}
		wg.Wait()
		st, _ := d.Status(ctx, "j-fanin")
		// The last first completion reports the child, and so does every
		// replay that arrives after it.
		if st.Done != parents || ready == 0 || ready > parents+1 {
			t.Fatalf("%d done, child reported ready %d times; want at least once", st.Done, ready)
		}
	})
}

func putRecord(t *testing.T, d state.Driver, job, record string, ttl time.Duration) {
	t.Helper()
	if err := d.PutRecord(context.Background(), job, []byte(record), ttl); err != nil {
		t.Fatal(err)
	}
}

func wantRecord(t *testing.T, d state.Driver, job, want string) {
	t.Helper()
	got, err := d.Record(context.Background(), job)
	if err != nil || string(got) != want {
		t.Fatalf("record of %s = %q, %v; want %q", job, got, err, want)
	}
}

// wantJobs checks that Jobs is sorted and that its ids starting with
// prefix (the subtest's own) are want.
func wantJobs(t *testing.T, d state.Driver, prefix string, want ...string) {
	t.Helper()
	ids, err := d.Jobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(ids) {
		t.Errorf("Jobs not sorted: %q", ids)
	}
	var got []string
	for _, id := range ids {
		if strings.HasPrefix(id, prefix) {
			got = append(got, id)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Jobs = %q, want %q among them", ids, want)
	}
}

func sameSet(got []string, want ...string) bool {
	g := slices.Clone(got)
	slices.Sort(g)
	slices.Sort(want)
	return slices.Equal(g, want)
}
