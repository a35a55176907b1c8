// Package queuetest is the conformance suite every queue driver passes.
package queuetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/npw-dev/npw/queue"
)

// Options adapt the suite to a driver.
type Options struct {
	// Lease is a visibility short enough to wait out in a test, and a
	// granularity the driver honours (SQS counts whole seconds).
	Lease time.Duration
}

// Run checks a driver. open returns the driver of a fresh, empty queue
// with the given name.
func Run(t *testing.T, open func(t *testing.T, name string) queue.Driver, opts Options) {
	ctx := context.Background()
	lease := opts.Lease
	long := 30 * lease // a lease that will not lapse during a subtest
	t.Run("SendReceiveAck", func(t *testing.T) {
		q := open(t, "sra")
		send(t, q, "a", "b", "c")
		got := receiveAll(t, q, 10, long)
		if bodies(got) != "[a b c]" {
			t.Fatalf("received %s", bodies(got))
		}
		for _, l := range got {
			if l.ReceiveCount != 1 || l.Receipt == "" {
				t.Errorf("first delivery of %s: count %d receipt %q", l.Body, l.ReceiveCount, l.Receipt)
			}
		}
		if err := q.Ack(ctx, receipts(got)); err != nil {
			t.Fatal(err)
		}
		expectDepth(t, q, 0, 0)
	})
	t.Run("Priorities", func(t *testing.T) {
		// Priorities span [0, MaxPriority), so that a driver with a few
		// levels (SQS) tells them apart. Within one priority the order is
		// not promised.
		q := open(t, "prio")
		high, mid, low := queue.MaxPriority-1, queue.MaxPriority/2, 0
		if err := q.Send(ctx, []queue.Message{{Body: "low1", Priority: low}, {Body: "high1", Priority: high}, {Body: "mid", Priority: mid}, {Body: "high2", Priority: high}, {Body: "low2", Priority: low}}); err != nil {
			t.Fatal(err)
		}
		var order []string
		for range 5 {
			l := receiveAll(t, q, 1, long)
			if want := map[int]int{high: 0, mid: 2, low: 3}[l[0].Priority]; l[0].Priority != high && l[0].Priority != mid && l[0].Priority != low || want > len(order) {
				t.Fatalf("received %s with priority %d after %v", l[0].Body, l[0].Priority, order)
			}
			order = append(order, l[0].Body)
		}
		slices.Sort(order[:2])
		slices.Sort(order[3:])
		if want := []string{"high1", "high2", "mid", "low1", "low2"}; !slices.Equal(order, want) {
			t.Fatalf("order %v, want %v (in any order within a priority)", order, want)
		}
	})
	t.Run("LeaseHidesAndLapses", func(t *testing.T) {
		q := open(t, "lapse")
		send(t, q, "x")
		first := receiveAll(t, q, 1, lease)
		if again, err := q.Receive(ctx, 1, lease, 0); err != nil || len(again) != 0 {
			t.Fatalf("a leased message was delivered again at once: %v %v", again, err)
		}
		expectDepth(t, q, 0, 1)
		time.Sleep(lease + lease/2)
		second := receiveAll(t, q, 1, long)
		if second[0].Body != "x" || second[0].ReceiveCount != 2 || second[0].Receipt == first[0].Receipt {
			t.Fatalf("redelivery after the lease lapsed: %+v (first %+v)", second[0], first[0])
		}
		// A stale ack is ErrLeaseLost where the service can tell; SQS
		// accepts it. Workers ack only after the completion is recorded,
		// so either answer is safe.
		if err := q.Ack(ctx, []string{first[0].Receipt}); err != nil && !errors.Is(err, queue.ErrLeaseLost) {
			t.Errorf("ack with a lapsed receipt: %v, want nil or ErrLeaseLost", err)
		}
		if err := q.Extend(ctx, first[0].Receipt, long); !errors.Is(err, queue.ErrLeaseLost) {
			t.Errorf("extend with a lapsed receipt: %v, want ErrLeaseLost", err)
		}
		if err := q.Ack(ctx, []string{second[0].Receipt}); err != nil {
			t.Errorf("ack with the current receipt: %v", err)
		}
		expectDepth(t, q, 0, 0)
	})
	t.Run("ExtendKeepsLease", func(t *testing.T) {
		q := open(t, "extend")
		send(t, q, "y")
		l := receiveAll(t, q, 1, 2*lease)
		for range 3 {
			time.Sleep(lease)
			if err := q.Extend(ctx, l[0].Receipt, 2*lease); err != nil {
				t.Fatalf("extend: %v", err)
			}
		}
		if again, _ := q.Receive(ctx, 1, lease, 0); len(again) != 0 {
			t.Fatal("an extended lease lapsed")
		}
		if err := q.Ack(ctx, []string{l[0].Receipt}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("AckedIsGone", func(t *testing.T) {
		q := open(t, "gone")
		send(t, q, "z")
		l := receiveAll(t, q, 1, lease)
		if err := q.Ack(ctx, receipts(l)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(lease + lease/2)
		if again, _ := q.Receive(ctx, 1, lease, 0); len(again) != 0 {
			t.Fatalf("an acked message came back: %v", again)
		}
	})
	t.Run("DepthAndBatches", func(t *testing.T) {
		q := open(t, "depth")
		var msgs []queue.Message
		for i := range 25 {
			msgs = append(msgs, queue.Message{Body: fmt.Sprint(i)})
		}
		if err := q.Send(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		expectDepth(t, q, 25, 0)
		got := receiveAll(t, q, 7, long)
		if len(got) != 7 {
			t.Fatalf("received %d, asked for 7", len(got))
		}
		expectDepth(t, q, 18, 7)
	})
	t.Run("LongPoll", func(t *testing.T) {
		q := open(t, "poll")
		start := time.Now()
		got, err := q.Receive(ctx, 1, long, lease)
		if err != nil || len(got) != 0 || time.Since(start) < lease*8/10 {
			t.Fatalf("receive on an empty queue: %v %v after %v, want nothing after about %v", got, err, time.Since(start), lease)
		}
		go func() {
			time.Sleep(lease / 2)
			send(t, q, "late")
		}()
		start = time.Now()
		got, err = q.Receive(ctx, 1, long, 10*lease)
		if err != nil || len(got) != 1 || time.Since(start) > 5*lease {
			t.Fatalf("long poll: %v %v after %v", got, err, time.Since(start))
		}
	})
	t.Run("ConcurrentReceivers", func(t *testing.T) {
		q := open(t, "many")
		const n = 300
		var msgs []queue.Message
		for i := range n {
			msgs = append(msgs, queue.Message{Body: fmt.Sprint(i), Priority: i % 3})
		}
		if err := q.Send(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					ls, err := q.Receive(ctx, 5, long, 0)
					if err != nil || len(ls) == 0 {
						return
					}
					mu.Lock()
					for _, l := range ls {
						seen[l.Body]++
					}
					mu.Unlock()
					if err := q.Ack(ctx, receipts(ls)); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if len(seen) != n {
			t.Fatalf("%d distinct messages received, want %d", len(seen), n)
		}
		for b, c := range seen {
			if c != 1 {
				t.Fatalf("message %s received %d times within its lease", b, c)
			}
		}
	})
	t.Run("Destroy", func(t *testing.T) {
		q := open(t, "destroy")
		send(t, q, "a")
		if err := q.Destroy(ctx); err != nil {
			t.Fatal(err)
		}
		if err := q.Send(ctx, []queue.Message{{Body: "b"}}); err == nil {
			t.Error("a destroyed queue accepted a message")
		}
		if _, _, err := q.Depth(ctx); err == nil {
			t.Error("a destroyed queue reported its depth")
		}
	})
}

func send(t *testing.T, q queue.Driver, bodies ...string) {
	t.Helper()
	var msgs []queue.Message
	for _, b := range bodies {
		msgs = append(msgs, queue.Message{Body: b})
	}
	if err := q.Send(context.Background(), msgs); err != nil {
		t.Error(err)
	}
}

// receiveAll receives until max messages arrived or a short wait finds none.
func receiveAll(t *testing.T, q queue.Driver, max int, visibility time.Duration) []queue.Lease {
	t.Helper()
	var all []queue.Lease
	for len(all) < max {
		ls, err := q.Receive(context.Background(), max-len(all), visibility, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(ls) == 0 {
			break
		}
		all = append(all, ls...)
	}
	if len(all) == 0 {
		t.Fatal("received nothing")
	}
	return all
}

func bodies(ls []queue.Lease) string {
	var b []string
	for _, l := range ls {
		b = append(b, l.Body)
	}
	slices.Sort(b)
	return fmt.Sprint(b)
}

func receipts(ls []queue.Lease) []string {
	var r []string
	for _, l := range ls {
		r = append(r, l.Receipt)
	}
	return r
}

func expectDepth(t *testing.T, q queue.Driver, visible, inflight int) {
	t.Helper()
	v, f, err := q.Depth(context.Background())
	if err != nil || v != visible || f != inflight {
		t.Fatalf("depth = %d visible, %d in flight, %v; want %d, %d", v, f, err, visible, inflight)
	}
}
