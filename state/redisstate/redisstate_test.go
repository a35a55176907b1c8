package redisstate_test

import (
	"context"
	"errors"
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

// TestRawRecordAndBeats asserts the keys of records and heartbeats: the
// record is a string of its own, with its own expiry, listed in the
// index set; heartbeats are a sorted set among the job's keys, with the
// job's expiry; Delete removes the heartbeats and leaves the record.
func TestRawRecordAndBeats(t *testing.T) {
	ctx := context.Background()
	rawurl, prefix, raw := fresh(t)
	s, err := state.Open(ctx, rawurl)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := prefix + ":{j1}:"
	index := prefix + ":jobs"

	// A record alone: its key and the index, nothing of the task state.
	if err := s.PutRecord(ctx, "j1", []byte(`{"v":1}`), 0); err != nil {
		t.Fatal(err)
	}
	if got := keysOf(t, raw, prefix); !slices.Equal(got, []string{index, base + "record"}) {
		t.Fatalf("keys after PutRecord: %v", got)
	}
	if v := raw.Get(ctx, base+"record").Val(); v != `{"v":1}` {
		t.Errorf("record = %q", v)
	}
	if m := raw.SMembers(ctx, index).Val(); !slices.Equal(m, []string{"j1"}) {
		t.Errorf("index = %v", m)
	}
	if ttl := raw.TTL(ctx, base+"record").Val(); ttl != -1 {
		t.Errorf("TTL of a record put with no ttl = %v, want none (-1)", ttl)
	}
	if tp := raw.Type(ctx, index).Val(); tp != "set" {
		t.Errorf("index is a %s, want a set", tp)
	}
	// A ttl sets an expiry; a later put with none removes it.
	if err := s.PutRecord(ctx, "j1", []byte(`{"v":2}`), 90*time.Minute); err != nil {
		t.Fatal(err)
	}
	if ttl := raw.TTL(ctx, base+"record").Val(); ttl < 89*time.Minute || ttl > 90*time.Minute {
		t.Errorf("TTL of a record put with 90m = %v", ttl)
	}
	if ttl := raw.TTL(ctx, index).Val(); ttl != -1 {
		t.Errorf("the index has an expiry: %v", ttl)
	}
	if err := s.PutRecord(ctx, "j1", []byte(`{"v":3}`), 0); err != nil {
		t.Fatal(err)
	}
	if ttl := raw.TTL(ctx, base+"record").Val(); ttl != -1 {
		t.Errorf("TTL of a record put again with no ttl = %v, want none (-1)", ttl)
	}

	// Task state and heartbeats: the beats key has the job's expiry.
	if err := s.CreateJob(ctx, state.Job{ID: "j1", Tasks: 2, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	now := time.UnixMilli(1_700_000_000_123)
	if err := s.Heartbeat(ctx, "j1", "p1", now); err != nil {
		t.Fatal(err)
	}
	if err := s.Heartbeat(ctx, "j1", "lambda-req-9", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	want := []string{index, base + "beats", base + "meta", base + "record"}
	if got := keysOf(t, raw, prefix); !slices.Equal(got, want) {
		t.Fatalf("keys: %v, want %v", got, want)
	}
	beats := raw.ZRangeWithScores(ctx, base+"beats", 0, -1).Val()
	if len(beats) != 2 || beats[0].Member != "p1" || beats[0].Score != 1_700_000_000_123 ||
		beats[1].Member != "lambda-req-9" || beats[1].Score != 1_700_000_001_123 {
		t.Errorf("beats = %v", beats)
	}
	for _, k := range []string{base + "beats", base + "meta"} {
		if ttl := raw.TTL(ctx, k).Val(); ttl < 59*time.Minute || ttl > time.Hour {
			t.Errorf("TTL of %s = %v, want about an hour", k, ttl)
		}
	}
	if ttl := raw.TTL(ctx, base+"record").Val(); ttl != -1 {
		t.Errorf("the job's TTL reached the record: %v", ttl)
	}
	if err := s.Retire(ctx, "j1", "p1"); err != nil {
		t.Fatal(err)
	}
	if m := raw.ZRange(ctx, base+"beats", 0, -1).Val(); !slices.Equal(m, []string{"lambda-req-9"}) {
		t.Errorf("beats after Retire = %v", m)
	}

	// Delete removes the task state and heartbeats, not the record.
	if err := s.Delete(ctx, "j1"); err != nil {
		t.Fatal(err)
	}
	if got := keysOf(t, raw, prefix); !slices.Equal(got, []string{index, base + "record"}) {
		t.Fatalf("keys after Delete: %v", got)
	}
	if err := s.Heartbeat(ctx, "j1", "p1", now); !errors.Is(err, state.ErrNoJob) {
		t.Fatalf("heartbeat after Delete: %v", err)
	}
	if got := keysOf(t, raw, prefix); !slices.Equal(got, []string{index, base + "record"}) {
		t.Fatalf("a refused heartbeat left keys: %v", got)
	}

	// DeleteRecord removes the record and the id from the index (and the
	// index, once empty, is gone).
	if err := s.DeleteRecord(ctx, "j1"); err != nil {
		t.Fatal(err)
	}
	if got := keysOf(t, raw, prefix); len(got) != 0 {
		t.Fatalf("keys after DeleteRecord: %v", got)
	}
}

// TestRawIndexCleaned checks that Jobs removes from the index the ids
// whose record key is gone, and leaves the others.
func TestRawIndexCleaned(t *testing.T) {
	ctx := context.Background()
	rawurl, prefix, raw := fresh(t)
	s, err := state.Open(ctx, rawurl)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range []string{"b", "a", "gone"} {
		if err := s.PutRecord(ctx, id, []byte("{}"), 0); err != nil {
			t.Fatal(err)
		}
	}
	// As if the record had expired: the key is gone, the id still indexed.
	raw.Del(ctx, prefix+":{gone}:record")
	raw.SAdd(ctx, prefix+":jobs", "never-put")
	if m := raw.SCard(ctx, prefix+":jobs").Val(); m != 4 {
		t.Fatalf("index has %d ids, want 4", m)
	}
	ids, err := s.Jobs(ctx)
	if err != nil || !slices.Equal(ids, []string{"a", "b"}) {
		t.Fatalf("Jobs = %q, %v; want [a b]", ids, err)
	}
	m := raw.SMembers(ctx, prefix+":jobs").Val()
	slices.Sort(m)
	if !slices.Equal(m, []string{"a", "b"}) {
		t.Errorf("index after Jobs = %v, want [a b]", m)
	}
}
