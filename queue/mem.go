package queue

import (
	"container/heap"
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/npw-dev/npw/internal/registry"
)

func init() { Register("mem", openMem) }

// Memory queues live in this process, named by the URL's host and the
// queue name, so every opener of mem:// and a job's name shares one.
var memQueues registry.Instances[*MemDriver]

// openMem opens a memory queue. Memory queues live only as long as this
// process, so Open makes a missing one as Create does.
func openMem(_ context.Context, u *url.URL, name string, _ bool) (Driver, error) {
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return nil, fmt.Errorf("a memory queue URL is mem:// or mem://space")
	}
	key := u.Host + "/" + name
	return memQueues.Get(key, func() *MemDriver {
		q := NewMemDriver()
		q.key = key
		return q
	}), nil
}

// A MemDriver is an in-memory lease queue with SQS's semantics: leases
// lapse and the message is delivered again with a higher receive count and
// a new receipt; stale receipts are refused.
type MemDriver struct {
	key string

	mu        sync.Mutex
	seq       uint64
	visible   entryHeap
	inflight  map[string]*entry // by receipt
	notify    chan struct{}     // closed and replaced when messages become visible
	destroyed bool
}

type entry struct {
	seq      uint64 // send order, kept across deliveries
	msg      Message
	receives int
	receipt  string
	deadline time.Time
}

// NewMemDriver returns an empty queue not registered under any URL.
func NewMemDriver() *MemDriver {
	return &MemDriver{inflight: map[string]*entry{}, notify: make(chan struct{})}
}

// entryHeap orders visible messages by priority, then send order.
type entryHeap []*entry

func (h entryHeap) Len() int { return len(h) }
func (h entryHeap) Less(i, j int) bool {
	if h[i].msg.Priority != h[j].msg.Priority {
		return h[i].msg.Priority > h[j].msg.Priority
	}
	return h[i].seq < h[j].seq
}
func (h entryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *entryHeap) Push(x any)   { *h = append(*h, x.(*entry)) }
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// wake tells waiting receivers that messages became visible. Call with mu held.
func (q *MemDriver) wake() {
	close(q.notify)
	q.notify = make(chan struct{})
}

// expire returns lapsed leases to the visible messages. Call with mu held.
func (q *MemDriver) expire(now time.Time) {
	n := 0
	for r, e := range q.inflight {
		if !now.Before(e.deadline) {
			delete(q.inflight, r)
			e.receipt = ""
			heap.Push(&q.visible, e)
			n++
		}
	}
	if n > 0 {
		q.wake()
	}
}

// Send implements Driver.
func (q *MemDriver) Send(_ context.Context, msgs []Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.destroyed {
		return ErrNoQueue
	}
	for _, m := range msgs {
		q.seq++
		heap.Push(&q.visible, &entry{seq: q.seq, msg: m})
	}
	q.wake()
	return nil
}

// Receive implements Driver.
func (q *MemDriver) Receive(ctx context.Context, max int, visibility, wait time.Duration) ([]Lease, error) {
	until := time.Now().Add(wait)
	for {
		q.mu.Lock()
		if q.destroyed {
			q.mu.Unlock()
			return nil, ErrNoQueue
		}
		now := time.Now()
		q.expire(now)
		var leases []Lease
		for len(leases) < max && q.visible.Len() > 0 {
			e := heap.Pop(&q.visible).(*entry)
			e.receives++
			e.receipt = fmt.Sprintf("%d.%d", e.seq, e.receives)
			e.deadline = now.Add(visibility)
			q.inflight[e.receipt] = e
			leases = append(leases, Lease{Body: e.msg.Body, Priority: e.msg.Priority, Receipt: e.receipt, ReceiveCount: e.receives})
		}
		next := until
		for _, e := range q.inflight {
			if e.deadline.Before(next) {
				next = e.deadline
			}
		}
		notify := q.notify
		q.mu.Unlock()
		if len(leases) > 0 || !now.Before(until) {
			return leases, nil
		}
		timer := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-notify:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// Extend implements Driver.
func (q *MemDriver) Extend(_ context.Context, receipt string, visibility time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.destroyed {
		return ErrNoQueue
	}
	now := time.Now()
	q.expire(now)
	e, ok := q.inflight[receipt]
	if !ok {
		return ErrLeaseLost
	}
	e.deadline = now.Add(visibility)
	return nil
}

// Ack implements Driver.
func (q *MemDriver) Ack(_ context.Context, receipts []string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.destroyed {
		return ErrNoQueue
	}
	q.expire(time.Now())
	var err error
	for _, r := range receipts {
		if _, ok := q.inflight[r]; ok {
			delete(q.inflight, r)
		} else {
			err = ErrLeaseLost
		}
	}
	return err
}

// Depth implements Driver.
func (q *MemDriver) Depth(context.Context) (visible, inflight int, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.destroyed {
		return 0, 0, ErrNoQueue
	}
	q.expire(time.Now())
	return q.visible.Len(), len(q.inflight), nil
}

// Destroy implements Driver: the queue is emptied and unregistered, so
// the next Open of its name makes a new one.
func (q *MemDriver) Destroy(context.Context) error {
	memQueues.Remove(q.key, func(other *MemDriver) bool { return other == q })
	q.mu.Lock()
	defer q.mu.Unlock()
	q.destroyed = true
	q.visible, q.inflight = nil, map[string]*entry{}
	q.wake()
	return nil
}

// Close implements Driver.
func (q *MemDriver) Close() error { return nil }
