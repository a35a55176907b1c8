package state_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/npw-dev/npw/state"
	"github.com/npw-dev/npw/state/statetest"
)

func TestMemState(t *testing.T) {
	statetest.Run(t, func(t *testing.T) state.Driver { return state.NewMemDriver() })
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"redis2://x", `unknown scheme "redis2" (supported: mem://)`},
		{"mem://a/b", "mem:// or mem://name"},
		{"", "want scheme://"},
	} {
		if _, err := state.Open(context.Background(), tc.url); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want %q", tc.url, err, tc.want)
		}
	}
	s, err := state.Open(context.Background(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Status(context.Background(), "nope"); err == nil || !strings.Contains(err.Error(), "status of job nope: no such job") {
		t.Errorf("wrapped error: %v", err)
	}
}

// The Store counts the requests of records and heartbeats and wraps their
// errors like the others'.
func TestStoreRecordsAndHeartbeats(t *testing.T) {
	ctx := context.Background()
	d := state.NewMemDriver()
	s := state.New(d, "mem://")
	if err := s.PutRecord(ctx, "", []byte("{}"), 0); err == nil {
		t.Error("a record without a job id was put")
	}
	if err := s.PutRecord(ctx, "j", []byte("{}"), -time.Second); err == nil {
		t.Error("a record with a negative ttl was put")
	}
	if n := s.Requests(); n != 0 {
		t.Errorf("refused puts counted %d requests", n)
	}
	if _, err := s.Record(ctx, "j"); !errors.Is(err, state.ErrNoJob) || !strings.Contains(err.Error(), "read the record of job j: no such job") {
		t.Errorf("wrapped error: %v", err)
	}
	if err := s.Heartbeat(ctx, "j", "p1", time.Now()); !errors.Is(err, state.ErrNoJob) || !strings.Contains(err.Error(), "heartbeat of worker p1 in job j: no such job") {
		t.Errorf("wrapped error: %v", err)
	}
	if _, err := s.Workers(ctx, "j", time.Time{}); !errors.Is(err, state.ErrNoJob) || !strings.Contains(err.Error(), "list the workers of job j: no such job") {
		t.Errorf("wrapped error: %v", err)
	}
	if err := s.PutRecord(ctx, "j", []byte("{}"), 0); err != nil {
		t.Fatal(err)
	}
	if ids, err := s.Jobs(ctx); err != nil || !slices.Equal(ids, []string{"j"}) {
		t.Errorf("Jobs = %q, %v", ids, err)
	}
	if err := s.DeleteRecord(ctx, "j"); err != nil {
		t.Fatal(err)
	}
	if err := s.Retire(ctx, "j", "p1"); err != nil {
		t.Fatal(err)
	}
	if n := s.Requests(); n != 7 {
		t.Errorf("%d requests counted, want 7", n)
	}
	// Records are not task state: Tracked counts jobs created, not records.
	if n := d.Tracked(); n != 0 {
		t.Errorf("Tracked = %d with no job created", n)
	}
}
