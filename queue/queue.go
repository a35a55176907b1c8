// Package queue is the task queue: messages are leased, not popped. A
// received message stays in the queue, invisible, until its lease (the
// visibility timeout) lapses, when it is delivered again, or until it is
// acknowledged. Delivery is at least once; higher priorities come first.
// This is SQS's model, so the memory driver and the SQS driver are
// interchangeable.
//
// A driver registers a URL scheme; a queue is opened by URL and a name
// (a job's queue). Every driver passes the suite in queue/queuetest.
package queue

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/npw-dev/npw/internal/registry"

	"github.com/npw-dev/npw/internal/secret"
)

// MaxPriority bounds message priorities: they lie in [0, MaxPriority).
// Drivers with a few priority levels (SQS) map this range onto theirs.
const MaxPriority = 1 << 16

// A Message is a task to run. Higher priorities are received first.
type Message struct {
	Body     string
	Priority int
}

// A Lease is one delivery of a message. Until it lapses or is acked, no
// other receiver gets the message.
type Lease struct {
	Body         string
	Priority     int
	Receipt      string // this delivery; Extend and Ack name it
	ReceiveCount int    // deliveries of the message so far, this one included
}

// ErrLeaseLost reports a receipt that is no longer valid: the lease
// lapsed (and the message may be with another receiver) or was acked.
var ErrLeaseLost = errors.New("lease lost")

// ErrNoQueue reports a queue that does not exist (deleted, or never made).
var ErrNoQueue = errors.New("no such queue")

// A Driver implements a named queue.
type Driver interface {
	// Send adds messages.
	Send(ctx context.Context, msgs []Message) error
	// Receive leases up to max visible messages, highest priority first,
	// for visibility. With none visible it waits up to wait for one.
	Receive(ctx context.Context, max int, visibility, wait time.Duration) ([]Lease, error)
	// Extend resets a lease to lapse visibility from now.
	Extend(ctx context.Context, receipt string, visibility time.Duration) error
	// Ack deletes the leased messages. A stale receipt gives ErrLeaseLost
	// where the service can tell (SQS cannot, and accepts it); the others
	// are still deleted. Workers ack a task only after its completion is
	// recorded, so a stale ack is harmless either way.
	Ack(ctx context.Context, receipts []string) error
	// Depth counts the visible and the leased messages.
	Depth(ctx context.Context) (visible, inflight int, err error)
	// Destroy deletes the queue and its messages.
	Destroy(ctx context.Context) error
	Close() error
}

// An Opener opens the named queue of a URL's scheme. With create it makes
// the queue if it does not exist; without, a missing queue is an error
// wrapping ErrNoQueue, so that a late worker never brings back the queue
// of a job that has been cleaned up.
type Opener func(ctx context.Context, u *url.URL, name string, create bool) (Driver, error)

var openers = registry.New[Opener]("queue")

// Register makes a driver available under a URL scheme.
func Register(scheme string, open Opener) { openers.Register(scheme, open) }

// CheckURL reports a queue URL of no registered scheme, or one that does
// not parse, without opening anything: a client checks its queue URL
// before its first job.
func CheckURL(rawurl string) error {
	_, _, err := openers.Lookup(rawurl)
	return err
}

// Create opens the queue called name at a URL such as mem://, making it
// if needed. A job's client creates its queue; workers Open it.
func Create(ctx context.Context, rawurl, name string) (*Queue, error) {
	return open(ctx, rawurl, name, true)
}

// Open opens the existing queue called name at a URL such as mem://.
func Open(ctx context.Context, rawurl, name string) (*Queue, error) {
	return open(ctx, rawurl, name, false)
}

func open(ctx context.Context, rawurl, name string, create bool) (*Queue, error) {
	open, u, err := openers.Lookup(rawurl)
	if err != nil {
		return nil, err
	}
	if name == "" || strings.ContainsAny(name, "/ ") {
		return nil, fmt.Errorf("bad queue name %q", name)
	}
	d, err := open(ctx, u, name, create)
	if err != nil {
		return nil, secret.Wrap(fmt.Errorf("queue %s (%s): %w", name, rawurl, err), rawurl)
	}
	return New(d, rawurl), nil
}

// New wraps a driver.
func New(d Driver, url string) *Queue { return &Queue{driver: d, url: url} }

// A Queue is a lease queue; it is safe for concurrent use.
type Queue struct {
	driver Driver
	url    string
	stats  Stats
}

// Stats counts requests to the queue.
type Stats struct {
	Sends, Receives, Extends, Acks, Depths atomic.Int64
}

// Stats returns the request counters.
func (q *Queue) Stats() *Stats { return &q.stats }

// A RequestCounter is a driver that counts the requests it makes to its
// service, which may be more than one per call (SQS: one per priority
// level polled, one per batch of ten).
type RequestCounter interface{ Requests() int64 }

// Requests counts the requests made to the service: the driver's count
// when it keeps one, else one per call.
func (q *Queue) Requests() int64 {
	if rc, ok := q.driver.(RequestCounter); ok {
		return rc.Requests()
	}
	s := &q.stats
	return s.Sends.Load() + s.Receives.Load() + s.Extends.Load() + s.Acks.Load() + s.Depths.Load()
}

// URL returns the URL the queue was opened with.
func (q *Queue) URL() string { return q.url }

// Send adds messages.
func (q *Queue) Send(ctx context.Context, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	q.stats.Sends.Add(1)
	if err := q.driver.Send(ctx, msgs); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// Receive leases up to max messages for visibility, waiting up to wait
// when none is visible.
func (q *Queue) Receive(ctx context.Context, max int, visibility, wait time.Duration) ([]Lease, error) {
	if max <= 0 || visibility <= 0 {
		return nil, fmt.Errorf("receive: need max > 0 and visibility > 0, got %d and %v", max, visibility)
	}
	q.stats.Receives.Add(1)
	leases, err := q.driver.Receive(ctx, max, visibility, wait)
	if err != nil {
		return nil, fmt.Errorf("receive: %w", err)
	}
	return leases, nil
}

// Extend resets a lease to lapse visibility from now.
func (q *Queue) Extend(ctx context.Context, receipt string, visibility time.Duration) error {
	q.stats.Extends.Add(1)
	if err := q.driver.Extend(ctx, receipt, visibility); err != nil {
		return fmt.Errorf("extend lease: %w", err)
	}
	return nil
}

// Ack deletes leased messages.
func (q *Queue) Ack(ctx context.Context, receipts ...string) error {
	if len(receipts) == 0 {
		return nil
	}
	q.stats.Acks.Add(1)
	if err := q.driver.Ack(ctx, receipts); err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	return nil
}

// Depth counts visible and leased messages.
func (q *Queue) Depth(ctx context.Context) (visible, inflight int, err error) {
	q.stats.Depths.Add(1)
	visible, inflight, err = q.driver.Depth(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("depth: %w", err)
	}
	return visible, inflight, nil
}

// Destroy deletes the queue and its messages.
func (q *Queue) Destroy(ctx context.Context) error { return q.driver.Destroy(ctx) }

// Close releases the driver.
func (q *Queue) Close() error { return q.driver.Close() }

// Driver returns the underlying driver.
func (q *Queue) Driver() Driver { return q.driver }
