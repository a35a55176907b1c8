// Package clock is the one source of time of the executor, the
// provisioner and the job: they take a Clock instead of calling the time
// package, so that the same code runs on real time (Real) and on virtual
// time (Fake in tests, a simulator's clock in `npw simulate`).
//
// Only the operations the engine needs are here: reading the time,
// sleeping, one-shot timers (a channel or a function) and tickers. A
// context deadline on a Clock is WithTimeout, which cancels through the
// clock's own timer rather than the runtime's.
package clock

import (
	"context"
	"time"
)

// A Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	// Since is Now().Sub(t).
	Since(t time.Time) time.Duration
	// Sleep waits for d, or until ctx is done, whose error it returns.
	Sleep(ctx context.Context, d time.Duration) error
	// After sends the time on the returned channel once d has passed.
	After(d time.Duration) <-chan time.Time
	// NewTimer makes a timer that fires once after d.
	NewTimer(d time.Duration) Timer
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
	// NewTicker makes a ticker that sends the time every d (d > 0).
	NewTicker(d time.Duration) Ticker
}

// A Timer fires once; Stop reports whether it stopped the timer before
// it fired. C is nil for a timer made by AfterFunc.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// A Ticker sends the time at intervals until stopped. Like the time
// package's, it drops ticks a slow receiver misses.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Real is the clock of the time package.
var Real Clock = realClock{}

// Or returns c, or Real when c is nil: the default of every Clock field.
func Or(c Clock) Clock {
	if c == nil {
		return Real
	}
	return c
}

// WithTimeout returns a context that is cancelled when d has passed on c,
// with cause as its cause (context.Cause), or when parent is done.
func WithTimeout(parent context.Context, c Clock, d time.Duration, cause error) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	t := c.AfterFunc(d, func() { cancel(cause) })
	return ctx, func() {
		t.Stop()
		cancel(context.Canceled)
	}
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) Since(t time.Time) time.Duration        { return time.Since(t) }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

func (realClock) AfterFunc(d time.Duration, f func()) Timer {
	return realTimer{time.AfterFunc(d, f)}
}

func (realClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.t.C }
func (t realTimer) Stop() bool          { return t.t.Stop() }

type realTicker struct{ t *time.Ticker }

func (t realTicker) C() <-chan time.Time { return t.t.C }
func (t realTicker) Stop()               { t.t.Stop() }
