package clock

import (
	"context"
	"slices"
	"sync"
	"time"
)

// A Fake is a clock whose time moves only when Advance is called: tests
// use it to make time-driven behaviour (idle timeouts, runtime limits,
// stall detection, the provisioner's rounds) deterministic and instant.
// Timers due by the new time fire in deadline order, each from Advance's
// goroutine (channel sends never block: a timer's channel has room for
// one value, and a ticker drops ticks as the time package's does).
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	changed chan struct{} // closed and replaced when timers are added
}

// NewFake returns a fake clock set at start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, changed: make(chan struct{})}
}

type fakeTimer struct {
	clock  *Fake
	at     time.Time
	period time.Duration // > 0 for a ticker
	ch     chan time.Time
	f      func()
}

// Now implements Clock.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Since implements Clock.
func (c *Fake) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Sleep implements Clock.
func (c *Fake) Sleep(ctx context.Context, d time.Duration) error {
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// After implements Clock.
func (c *Fake) After(d time.Duration) <-chan time.Time { return c.NewTimer(d).C() }

// NewTimer implements Clock.
func (c *Fake) NewTimer(d time.Duration) Timer {
	return c.add(&fakeTimer{clock: c, ch: make(chan time.Time, 1)}, d)
}

// AfterFunc implements Clock.
func (c *Fake) AfterFunc(d time.Duration, f func()) Timer {
	return c.add(&fakeTimer{clock: c, f: f}, d)
}

// NewTicker implements Clock.
func (c *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive ticker interval")
	}
	return fakeTicker{c.add(&fakeTimer{clock: c, period: d, ch: make(chan time.Time, 1)}, d)}
}

type fakeTicker struct{ t *fakeTimer }

func (t fakeTicker) C() <-chan time.Time { return t.t.ch }
func (t fakeTicker) Stop()               { t.t.Stop() }

func (c *Fake) add(t *fakeTimer, d time.Duration) *fakeTimer {
	c.mu.Lock()
	// A timer due in the past is due now: firing it must not set the
	// time back.
	t.at = c.now.Add(max(d, 0))
	c.timers = append(c.timers, t)
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	if d <= 0 {
		c.Advance(0)
	}
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.timers, t)
	if i < 0 {
		return false
	}
	c.timers = slices.Delete(c.timers, i, i+1)
	return true
}

// Advance moves the time forward by d, firing every timer due by then in
// the order of their deadlines, with the time set to each deadline as it
// fires. The time never goes back: a negative d fires what is due now.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		i := c.next(end)
		if i < 0 {
			break
		}
		t := c.timers[i]
		c.now = t.at
		if t.period > 0 {
			t.at = t.at.Add(t.period)
		} else {
			c.timers = slices.Delete(c.timers, i, i+1)
		}
		now := c.now
		c.mu.Unlock()
		t.fire(now)
		c.mu.Lock()
	}
	// Another Advance may have run while a timer fired (one that add
	// starts for a timer due now, say) and moved the time past end.
	if end.After(c.now) {
		c.now = end
	}
	c.mu.Unlock()
}

// next returns the index of the earliest timer due by end, or -1; c.mu
// is held.
func (c *Fake) next(end time.Time) int {
	best := -1
	for i, t := range c.timers {
		if !t.at.After(end) && (best < 0 || t.at.Before(c.timers[best].at)) {
			best = i
		}
	}
	return best
}

func (t *fakeTimer) fire(now time.Time) {
	if t.f != nil {
		go t.f()
		return
	}
	select {
	case t.ch <- now:
	default: // a ticker's receiver is behind: the tick is dropped
	}
}

// Timers returns the number of timers and tickers waiting to fire.
func (c *Fake) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Next returns the deadline of the earliest waiting timer, and false if
// none waits: what a simulator advances to when every worker waits.
func (c *Fake) Next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := c.next(time.Unix(1<<62, 0))
	if i < 0 {
		return time.Time{}, false
	}
	return c.timers[i].at, true
}

// BlockUntil waits (in real time) until at least n timers wait to fire,
// or ctx is done: a test calls it before Advance so that the code under
// test has set the timers the advance is meant to fire.
func (c *Fake) BlockUntil(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		count, changed := len(c.timers), c.changed
		c.mu.Unlock()
		if count >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
