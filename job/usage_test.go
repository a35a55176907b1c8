package job

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/npw-dev/npw/cost"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/state"
)

// TestLiveUsage checks the usage of a running job against figures
// computed by hand from what its members left in the state store: a
// worker alive (counted up to now), one that stopped, one that died
// without a word (counted up to its last heartbeat), and a provisioner
// (requests only).
func TestLiveUsage(t *testing.T) {
	ctx := context.Background()
	st := state.New(state.NewMemDriver(), "mem://")
	if err := st.CreateJob(ctx, state.Job{ID: "live", Tasks: 10}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	now := t0.Add(100 * time.Second)
	put := func(member string, u executor.Usage) {
		t.Helper()
		data, _ := json.Marshal(u)
		if err := st.PutUsage(ctx, "live", member, data); err != nil {
			t.Fatal(err)
		}
	}
	put("alive", executor.Usage{Worker: true, Started: t0.Add(10 * time.Second), At: now.Add(-3 * time.Second),
		Requests: executor.Requests{Tiles: 30, TilePutClass: 10, TileGetClass: 20, Queue: 100, State: 40}})
	put("stopped", executor.Usage{Worker: true, Started: t0, At: t0.Add(50 * time.Second), Stopped: true,
		Requests: executor.Requests{Tiles: 7, TilePutClass: 2, TileGetClass: 5, Queue: 11, State: 3}})
	put("silent", executor.Usage{Worker: true, Started: t0.Add(20 * time.Second), At: t0.Add(40 * time.Second)})
	put("provisioner h:1", executor.Usage{Requests: executor.Requests{Tiles: 5, TilePutClass: 5, Queue: 9, State: 50}})
	got, err := LiveUsage(ctx, st, &Record{ID: "live", Created: t0}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := cost.Usage{WorkerSeconds: 90 + 50 + 20, Invocations: 3, S3Puts: 10 + 2 + 5, S3Gets: 20 + 5, SQSRequests: 100 + 11 + 9, Wall: 100 * time.Second}
	if got != want {
		t.Errorf("LiveUsage = %+v, want %+v", got, want)
	}
	if _, err := LiveUsage(ctx, st, &Record{ID: "gone", Created: t0}, now); err == nil {
		t.Error("the usage of a job the store does not know")
	}
	if err := st.PutUsage(ctx, "live", "bad", []byte("{")); err != nil {
		t.Fatal(err)
	}
	if _, err := LiveUsage(ctx, st, &Record{ID: "live", Created: t0}, now); err == nil {
		t.Error("corrupt usage was not refused")
	}
}
