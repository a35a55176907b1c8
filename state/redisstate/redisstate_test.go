package redisstate_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/npw-dev/npw/internal/localcloud"
	"github.com/npw-dev/npw/state"
	_ "github.com/npw-dev/npw/state/redisstate"
	"github.com/npw-dev/npw/state/statetest"
)

func TestMain(m *testing.M) { localcloud.Main(m) }

// fresh returns a state URL whose keys start with a prefix no other test
// uses, and a raw client on the same Redis.
func fresh(t *testing.T) (string, string, *redis.Client) {
	t.Helper()
	c := localcloud.Get(t)
	prefix := fmt.Sprintf("npwtest%d", rand.Uint64())
	opts, err := redis.ParseURL(c.State)
	if err != nil {
		t.Fatal(err)
	}
	raw := redis.NewClient(opts)
	t.Cleanup(func() {
		if keys, err := raw.Keys(context.Background(), prefix+":*").Result(); err == nil && len(keys) > 0 {
			raw.Del(context.Background(), keys...)
		}
		raw.Close()
	})
	return c.State + "?prefix=" + prefix, prefix, raw
}

func TestRedisState(t *testing.T) {
	statetest.Run(t, func(t *testing.T) state.Driver {
		rawurl, _, _ := fresh(t)
		s, err := state.Open(context.Background(), rawurl)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s.Driver()
	})
}

// keysOf lists the raw keys under a prefix.
func keysOf(t *testing.T, raw *redis.Client, prefix string) []string {
	t.Helper()
	keys, err := raw.Keys(context.Background(), prefix+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

// TestRawKeys asserts the layout of keys.go: one hash-tagged key of each
// kind, their contents, their expiry, and nothing left after Delete.
func TestRawKeys(t *testing.T) {
	ctx := context.Background()
	rawurl, prefix, raw := fresh(t)
	s, err := state.Open(ctx, rawurl)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateJob(ctx, state.Job{ID: "j1", Tasks: 3, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	base := prefix + ":{j1}:"
	if got := keysOf(t, raw, prefix); !slices.Equal(got, []string{base + "meta"}) {
		t.Fatalf("keys after create: %v", got)
	}
	if _, err := s.Complete(ctx, "j1", state.Completion{Task: "a",
		Children: []state.Edge{{Child: "c", Indegree: 2}},
		Written:  []state.Tile{{Key: "jobs/j1/X/0_0.npy", Readers: 1, Bytes: 800}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordFailure(ctx, "j1", "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddWorkerReport(ctx, "j1", []byte(`{"worker":"w1"}`)); err != nil {
		t.Fatal(err)
	}
	want := []string{base + "done", base + "failures", base + "meta", base + "tiles", base + "waiting", base + "workers"}
	if got := keysOf(t, raw, prefix); !slices.Equal(got, want) {
		t.Fatalf("keys: %v, want %v", got, want)
	}
	if m := raw.SMembers(ctx, base+"done").Val(); !slices.Equal(m, []string{"a"}) {
		t.Errorf("done = %v", m)
	}
	if v := raw.HGet(ctx, base+"waiting", "c").Val(); v != "a\n" {
		t.Errorf("waiting[c] = %q", v)
	}
	if v := raw.HGet(ctx, base+"tiles", "jobs/j1/X/0_0.npy").Val(); v != "1 800 0\n" {
		t.Errorf("tiles[...] = %q", v)
	}
	if v := raw.HGet(ctx, base+"failures", "b").Val(); v != "1" {
		t.Errorf("failures[b] = %q", v)
	}
	if v := raw.LRange(ctx, base+"workers", 0, -1).Val(); !slices.Equal(v, []string{`{"worker":"w1"}`}) {
		t.Errorf("workers = %q", v)
	}
	meta := raw.HGetAll(ctx, base+"meta").Val()
	if meta["ndone"] != "1" || meta["phase"] != "running" || meta["scratch"] != "800" || meta["ttl"] != "3600" {
		t.Errorf("meta = %v", meta)
	}
	for _, k := range want {
		if ttl := raw.TTL(ctx, k).Val(); ttl < 59*time.Minute || ttl > time.Hour {
			t.Errorf("TTL of %s = %v, want about an hour", k, ttl)
		}
	}
	if err := s.Delete(ctx, "j1"); err != nil {
		t.Fatal(err)
	}
	if got := keysOf(t, raw, prefix); len(got) != 0 {
		t.Fatalf("keys left after delete: %v", got)
	}
}

// TestJobsApart runs two jobs with the same task names side by side.
func TestJobsApart(t *testing.T) {
	ctx := context.Background()
	rawurl, prefix, raw := fresh(t)
	s, err := state.Open(ctx, rawurl)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range []string{"x", "y"} {
		if err := s.CreateJob(ctx, state.Job{ID: id, Tasks: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Complete(ctx, "x", state.Completion{Task: "t"}); err != nil {
		t.Fatal(err)
	}
	if done, _ := s.IsDone(ctx, "y", "t"); done {
		t.Fatal("a task done in job x is done in job y")
	}
	if st, _ := s.Status(ctx, "y"); st.Done != 0 || st.Phase != state.Running {
		t.Fatalf("job y: %+v", st)
	}
	s.Delete(ctx, "x")
	for _, k := range keysOf(t, raw, prefix) {
		if !strings.Contains(k, "{y}") {
			t.Errorf("key %s left after deleting job x", k)
		}
	}
}

func TestUnreachable(t *testing.T) {
	start := time.Now()
	_, err := state.Open(context.Background(), "redis://127.0.0.1:1/0")
	if err == nil || !strings.Contains(err.Error(), "cannot reach Redis at 127.0.0.1:1") {
		t.Fatalf("open an unreachable Redis: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %v to report an unreachable Redis", time.Since(start))
	}
	c := localcloud.Get(t)
	u, _ := url.Parse(c.State)
	bad := "redis://:wrong@" + u.Host + "/0"
	start = time.Now()
	if _, err := state.Open(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "cannot reach Redis") || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("open with a bad password: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %v to report a bad password", time.Since(start))
	}
	// The password may come from the environment instead of the URL.
	t.Setenv("NPW_REDIS_PASSWORD", u.User.String()[1:])
	s, err := state.Open(context.Background(), "redis://"+u.Host+"/0")
	if err != nil {
		t.Fatalf("password from NPW_REDIS_PASSWORD: %v", err)
	}
	s.Close()
}
