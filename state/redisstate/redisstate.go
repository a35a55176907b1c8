// Package redisstate is the Redis driver of the state store, registered
// for redis:// and rediss:// (TLS) URLs:
//
//	redis://[user:password@]host:port/db[?prefix=npw]
//
// The password may also come from NPW_REDIS_PASSWORD. Every transition is
// one Lua script (scripts.go) on the job's keys (keys.go), which carry the
// job id as a hash tag; a job's keys expire after the job's TTL without a
// change. A job's record and the index of the jobs that have one are
// plain keys apart from the task state (keys.go).
package redisstate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/npw-dev/npw/state"
)

func init() {
	state.Register("redis", Open)
	state.Register("rediss", Open)
	// go-redis logs dial failures itself; npw reports them, once, as errors.
	redis.SetLogger(quiet{})
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// A Driver keeps job state in Redis.
type Driver struct {
	client redis.UniversalClient
	prefix string
}

// Open connects to the Redis of a redis:// or rediss:// URL and checks that
// it answers.
func Open(ctx context.Context, u *url.URL) (state.Driver, error) {
	q := u.Query()
	prefix := q.Get("prefix")
	if prefix == "" {
		prefix = "npw"
	}
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("prefix %q: braces are reserved for the job's hash tag", prefix)
	}
	q.Del("prefix")
	bare := *u
	bare.RawQuery = q.Encode()
	opts, err := redis.ParseURL(bare.String())
	if err != nil {
		return nil, err
	}
	if opts.Password == "" {
		opts.Password = os.Getenv("NPW_REDIS_PASSWORD")
	}
	opts.DialTimeout = 5 * time.Second
	client := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("cannot reach Redis at %s: %w", opts.Addr, err)
	}
	return &Driver{client: client, prefix: prefix}, nil
}

// NewDriver wraps a client; keys start with prefix.
func NewDriver(client redis.UniversalClient, prefix string) *Driver {
	return &Driver{client: client, prefix: prefix}
}

func (d *Driver) run(ctx context.Context, s *redis.Script, job string, args ...any) (any, error) {
	res, err := s.Run(ctx, d.client, jobKeys(d.prefix, job).all(), args...).Result()
	if err != nil {
		switch {
		case strings.Contains(err.Error(), "NPW_NOJOB"):
			return nil, state.ErrNoJob
		case strings.Contains(err.Error(), "NPW_EXISTS"):
			return nil, fmt.Errorf("job %s exists", job)
		}
		return nil, fmt.Errorf("redis: %w", err)
	}
	return res, nil
}

// CreateJob implements state.Driver.
func (d *Driver) CreateJob(ctx context.Context, job state.Job) error {
	ttl := int64(0)
	if job.TTL > 0 {
		ttl = max(1, int64(math.Ceil(job.TTL.Seconds())))
	}
	_, err := d.run(ctx, createScript, job.ID, job.Tasks, ttl)
	return err
}

// Complete implements state.Driver.
func (d *Driver) Complete(ctx context.Context, job string, c state.Completion) (state.Outcome, error) {
	m := c.Metrics
	args := []any{c.Task, fmtFloat(m.Flops), m.BytesRead, m.BytesWritten,
		fmtFloat(m.ReadSeconds), fmtFloat(m.ComputeSeconds), fmtFloat(m.WriteSeconds), m.CacheHits, c.Continued, len(c.Written)}
	for _, t := range c.Written {
		args = append(args, t.Key, t.Readers, t.Bytes)
	}
	args = append(args, len(c.Released))
	for _, k := range c.Released {
		args = append(args, k)
	}
	args = append(args, len(c.Children))
	for _, e := range c.Children {
		args = append(args, e.Child, e.Indegree)
	}
	res, err := d.run(ctx, completeScript, job, args...)
	if err != nil {
		return state.Outcome{}, err
	}
	r, ok := res.([]any)
	if !ok || len(r) != 5 {
		return state.Outcome{}, fmt.Errorf("redis: unexpected reply %v to complete", res)
	}
	first, _ := r[0].(int64)
	phase, _ := r[1].(string)
	next, _ := r[4].(string)
	return state.Outcome{First: first == 1, Phase: state.Phase(phase), Ready: strs(r[2]), Free: strs(r[3]), Continued: next}, nil
}

// ReadyAfter implements state.Driver.
func (d *Driver) ReadyAfter(ctx context.Context, job, parent string, children []state.Edge) ([]string, error) {
	args := []any{parent, len(children)}
	for _, e := range children {
		args = append(args, e.Child, e.Indegree)
	}
	res, err := d.run(ctx, readyAfterScript, job, args...)
	if err != nil {
		return nil, err
	}
	return strs(res), nil
}

// fmtFloat writes a float so that Redis's HINCRBYFLOAT reads it exactly.
func fmtFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func strs(v any) []string {
	items, _ := v.([]any)
	var out []string
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// IsDone implements state.Driver.
func (d *Driver) IsDone(ctx context.Context, job, task string) (bool, error) {
	res, err := d.run(ctx, isDoneScript, job, task)
	if err != nil {
		return false, err
	}
	n, _ := res.(int64)
	return n == 1, nil
}

// RecordFailure implements state.Driver.
func (d *Driver) RecordFailure(ctx context.Context, job, task string) (int, error) {
	res, err := d.run(ctx, failureScript, job, task)
	if err != nil {
		return 0, err
	}
	n, _ := res.(int64)
	return int(n), nil
}

// Fail implements state.Driver.
func (d *Driver) Fail(ctx context.Context, job, msg string) error {
	_, err := d.run(ctx, failScript, job, msg)
	return err
}

// Status implements state.Driver.
func (d *Driver) Status(ctx context.Context, job string) (state.Status, error) {
	h, err := d.client.HGetAll(ctx, jobKeys(d.prefix, job).meta).Result()
	if err != nil {
		return state.Status{}, fmt.Errorf("redis: %w", err)
	}
	if len(h) == 0 {
		return state.Status{}, state.ErrNoJob
	}
	var errs []error
	i64 := func(k string) int64 {
		n, err := strconv.ParseInt(h[k], 10, 64)
		errs = append(errs, err)
		return n
	}
	f64 := func(k string) float64 {
		x, err := strconv.ParseFloat(h[k], 64)
		errs = append(errs, err)
		return x
	}
	st := state.Status{
		Phase: state.Phase(h["phase"]), Tasks: i64("tasks"), Done: i64("ndone"), Error: h["error"],
		ScratchBytes: i64("scratch"), PeakScratchBytes: i64("peak"), Workers: i64("workers"),
		Metrics: state.Metrics{Flops: f64("flops"), BytesRead: i64("bytes_read"), BytesWritten: i64("bytes_written"),
			ReadSeconds: f64("read_seconds"), ComputeSeconds: f64("compute_seconds"), WriteSeconds: f64("write_seconds"),
			CacheHits: i64("cache_hits")},
	}
	if err := errors.Join(errs...); err != nil {
		return state.Status{}, fmt.Errorf("redis: job %s has a malformed status: %w", job, err)
	}
	return st, nil
}

// AddWorkerReport implements state.Driver.
func (d *Driver) AddWorkerReport(ctx context.Context, job string, report []byte) error {
	_, err := d.run(ctx, reportScript, job, report)
	return err
}

// WorkerReports implements state.Driver.
func (d *Driver) WorkerReports(ctx context.Context, job string) ([][]byte, error) {
	res, err := d.run(ctx, reportsScript, job)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, s := range strs(res) {
		out = append(out, []byte(s))
	}
	return out, nil
}

// Delete implements state.Driver: it removes the job's task state and
// heartbeats (keys.all), not its record.
func (d *Driver) Delete(ctx context.Context, job string) error {
	_, err := d.run(ctx, deleteScript, job)
	return err
}

// PutRecord implements state.Driver: the record is set (with its expiry,
// or none), then its id added to the index, in one pipeline outside any
// script (the index is not in the job's slot).
func (d *Driver) PutRecord(ctx context.Context, job string, record []byte, ttl time.Duration) error {
	var exp time.Duration // 0: a plain SET, which drops an earlier expiry
	if ttl > 0 {
		exp = (ttl + time.Millisecond - 1).Truncate(time.Millisecond) // PX: whole milliseconds, rounded up
	}
	_, err := d.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, jobKeys(d.prefix, job).record, record, exp)
		p.SAdd(ctx, indexKey(d.prefix), job)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Record implements state.Driver.
func (d *Driver) Record(ctx context.Context, job string) ([]byte, error) {
	b, err := d.client.Get(ctx, jobKeys(d.prefix, job).record).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, state.ErrNoJob
	case err != nil:
		return nil, fmt.Errorf("redis: %w", err)
	}
	return b, nil
}

// Jobs implements state.Driver: the ids of the index whose record is
// gone are removed from it.
func (d *Driver) Jobs(ctx context.Context) ([]string, error) {
	ids, err := d.client.SMembers(ctx, indexKey(d.prefix)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	exists := make([]*redis.IntCmd, len(ids))
	if _, err := d.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			exists[i] = p.Exists(ctx, jobKeys(d.prefix, id).record)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	live := []string{}
	for i, id := range ids {
		if exists[i].Val() == 1 {
			live = append(live, id)
		} else if err := d.unindex(ctx, id); err != nil {
			return nil, err
		}
	}
	slices.Sort(live)
	return live, nil
}

// unindex removes a job from the index unless its record exists. The
// record is checked again after the removal, and the id put back if a
// PutRecord (SET, then SADD) set it meanwhile: either the check sees the
// record or the SADD comes after the SREM, so a record that exists stays
// listed.
func (d *Driver) unindex(ctx context.Context, job string) error {
	index := indexKey(d.prefix)
	if err := d.client.SRem(ctx, index, job).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	n, err := d.client.Exists(ctx, jobKeys(d.prefix, job).record).Result()
	if err == nil && n == 1 {
		err = d.client.SAdd(ctx, index, job).Err()
	}
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// DeleteRecord implements state.Driver.
func (d *Driver) DeleteRecord(ctx context.Context, job string) error {
	if err := d.client.Del(ctx, jobKeys(d.prefix, job).record).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return d.unindex(ctx, job)
}

// Heartbeat implements state.Driver.
func (d *Driver) Heartbeat(ctx context.Context, job, worker string, now time.Time) error {
	_, err := d.run(ctx, heartbeatScript, job, worker, now.UnixMilli())
	return err
}

// Retire implements state.Driver.
func (d *Driver) Retire(ctx context.Context, job, worker string) error {
	_, err := d.run(ctx, retireScript, job, worker)
	return err
}

// Workers implements state.Driver.
func (d *Driver) Workers(ctx context.Context, job string, since time.Time) ([]string, error) {
	res, err := d.run(ctx, workersScript, job, since.UnixMilli())
	if err != nil {
		return nil, err
	}
	workers := strs(res)
	slices.Sort(workers)
	return workers, nil
}

// PutUsage implements state.Driver.
func (d *Driver) PutUsage(ctx context.Context, job, member string, usage []byte) error {
	_, err := d.run(ctx, putUsageScript, job, member, usage)
	return err
}

// Usage implements state.Driver.
func (d *Driver) Usage(ctx context.Context, job string) (map[string][]byte, error) {
	res, err := d.run(ctx, usageScript, job)
	if err != nil {
		return nil, err
	}
	flat := strs(res)
	out := make(map[string][]byte, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		out[flat[i]] = []byte(flat[i+1])
	}
	return out, nil
}

// Close implements state.Driver.
func (d *Driver) Close() error { return d.client.Close() }
