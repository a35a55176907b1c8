package clock

import (
	"context"
	"errors"
	"testing"
	"time"
)

var start = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// patience bounds the real time a test waits for a goroutine that the
// clock has already released; only a bug makes it pass.
const patience = 10 * time.Second

// at is the time d after start.
func at(d time.Duration) time.Time { return start.Add(d) }

func receive[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(patience):
		t.Fatalf("%s: nothing after %v", what, patience)
		panic("unreachable")
	}
}

// empty fails if ch holds a value. A fake timer's send happens in
// Advance, so a timer that fired has sent by the time Advance returns.
func empty(t *testing.T, what string, ch <-chan time.Time) {
	t.Helper()
	select {
	case v := <-ch:
		t.Errorf("%s: received %v", what, v)
	default:
	}
}

// Timers and tickers due within one Advance fire in the order of their
// deadlines, each with the time set to its deadline. The timers share a
// channel here, so the order of their sends shows.
func TestFakeFiresInDeadlineOrder(t *testing.T) {
	c := NewFake(start)
	fired := make(chan time.Time, 10)
	for _, d := range []time.Duration{3 * time.Second, time.Second, 2 * time.Second} {
		c.add(&fakeTimer{clock: c, ch: fired}, d)
	}
	c.add(&fakeTimer{clock: c, ch: fired, period: 1400 * time.Millisecond}, 1400*time.Millisecond)
	c.Advance(4 * time.Second)
	close(fired)
	var got []time.Time
	for v := range fired {
		got = append(got, v)
	}
	want := []time.Time{at(1000 * time.Millisecond), at(1400 * time.Millisecond), at(2000 * time.Millisecond), at(2800 * time.Millisecond), at(3000 * time.Millisecond)}
	if len(got) != len(want) {
		t.Fatalf("fired at %v, want %v", got, want)
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Fatalf("fired at %v, want %v", got, want)
		}
	}
	if now := c.Now(); !now.Equal(at(4 * time.Second)) {
		t.Errorf("after Advance(4s): Now = %v, want %v", now, at(4*time.Second))
	}
	if next, ok := c.Next(); !ok || !next.Equal(at(4200*time.Millisecond)) || c.Timers() != 1 {
		t.Errorf("after Advance: Next = %v, %v with %d timers; want the ticker's %v", next, ok, c.Timers(), at(4200*time.Millisecond))
	}
}

func TestFakeTimer(t *testing.T) {
	c := NewFake(start)
	tm := c.NewTimer(2 * time.Second)
	after := c.After(3 * time.Second)
	c.Advance(2*time.Second - 1)
	empty(t, "a timer before its deadline", tm.C())
	c.Advance(1)
	if v := receive(t, "NewTimer(2s)", tm.C()); !v.Equal(at(2 * time.Second)) {
		t.Errorf("the timer sent %v, want %v", v, at(2*time.Second))
	}
	if tm.Stop() {
		t.Error("Stop after the timer fired reported true")
	}
	empty(t, "After(3s) at 2s", after)
	c.Advance(time.Second)
	if v := receive(t, "After(3s)", after); !v.Equal(at(3 * time.Second)) {
		t.Errorf("After sent %v, want %v", v, at(3*time.Second))
	}
	if n := c.Timers(); n != 0 {
		t.Errorf("%d timers wait after all fired", n)
	}
}

func TestFakeStop(t *testing.T) {
	c := NewFake(start)
	tm := c.NewTimer(time.Second)
	ran := make(chan struct{}, 1)
	f := c.AfterFunc(time.Second, func() { ran <- struct{}{} })
	if !tm.Stop() || !f.Stop() {
		t.Fatal("Stop before firing reported false")
	}
	if tm.Stop() {
		t.Error("a second Stop reported true")
	}
	if n := c.Timers(); n != 0 {
		t.Errorf("%d timers wait after Stop", n)
	}
	c.Advance(time.Hour)
	empty(t, "a stopped timer", tm.C())
	select {
	case <-ran:
		t.Error("a stopped AfterFunc ran")
	default:
	}
}

// A ticker fires every period; a receiver that misses ticks gets the
// first it missed, and the rest are dropped.
func TestFakeTicker(t *testing.T) {
	c := NewFake(start)
	tk := c.NewTicker(time.Second)
	c.Advance(time.Second)
	if v := receive(t, "the first tick", tk.C()); !v.Equal(at(time.Second)) {
		t.Errorf("first tick at %v, want %v", v, at(time.Second))
	}
	c.Advance(3 * time.Second) // ticks at 2s, 3s, 4s; only the first has room
	if v := receive(t, "a missed tick", tk.C()); !v.Equal(at(2 * time.Second)) {
		t.Errorf("the kept tick is %v, want %v", v, at(2*time.Second))
	}
	empty(t, "the dropped ticks", tk.C())
	if next, ok := c.Next(); !ok || !next.Equal(at(5*time.Second)) {
		t.Errorf("the next tick is at %v, %v; want %v", next, ok, at(5*time.Second))
	}
	c.Advance(time.Second)
	if v := receive(t, "the tick after", tk.C()); !v.Equal(at(5 * time.Second)) {
		t.Errorf("tick at %v, want %v", v, at(5*time.Second))
	}
	tk.Stop()
	c.Advance(time.Hour)
	empty(t, "a stopped ticker", tk.C())
	if n := c.Timers(); n != 0 {
		t.Errorf("%d timers wait after the ticker stopped", n)
	}
	defer func() {
		if recover() == nil {
			t.Error("NewTicker(0) did not panic")
		}
	}()
	c.NewTicker(0)
}

func TestFakeAfterFunc(t *testing.T) {
	c := NewFake(start)
	ran := make(chan time.Time, 1)
	tm := c.AfterFunc(time.Second, func() { ran <- c.Now() })
	if tm.C() != nil {
		t.Error("an AfterFunc timer has a channel")
	}
	c.Advance(time.Second - 1)
	if n := c.Timers(); n != 1 {
		t.Fatalf("before the deadline %d timers wait, want 1", n)
	}
	c.Advance(1)
	if v := receive(t, "AfterFunc(1s)", ran); !v.Equal(at(time.Second)) {
		t.Errorf("the function ran at %v, want %v", v, at(time.Second))
	}
	if tm.Stop() {
		t.Error("Stop after the function ran reported true")
	}
}

// A timer due now or in the past fires at once, at the present time.
func TestFakeDueNow(t *testing.T) {
	c := NewFake(start)
	for _, d := range []time.Duration{0, -time.Hour} {
		if v := receive(t, "After(<= 0)", c.After(d)); !v.Equal(start) {
			t.Errorf("After(%v) sent %v, want %v", d, v, start)
		}
		if err := c.Sleep(context.Background(), d); err != nil {
			t.Errorf("Sleep(%v) = %v", d, err)
		}
	}
	c.Advance(-time.Hour)
	if now := c.Now(); !now.Equal(start) {
		t.Errorf("the time moved to %v, want %v", now, start)
	}
}

func TestFakeSleep(t *testing.T) {
	ctx := context.Background()
	c := NewFake(start)
	done := make(chan error, 1)
	go func() { done <- c.Sleep(ctx, 5*time.Second) }()
	if err := c.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	c.Advance(5*time.Second - 1)
	select {
	case err := <-done:
		t.Fatalf("Sleep(5s) returned before 5s: %v", err)
	default:
	}
	c.Advance(1)
	if err := receive(t, "Sleep(5s)", done); err != nil {
		t.Errorf("Sleep(5s) = %v", err)
	}

	// Cancelled, Sleep returns the context's error and stops its timer.
	cctx, cancel := context.WithCancel(ctx)
	go func() { done <- c.Sleep(cctx, time.Hour) }()
	if err := c.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := receive(t, "a cancelled Sleep", done); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled Sleep = %v, want context.Canceled", err)
	}
	if n := c.Timers(); n != 0 {
		t.Errorf("%d timers wait after a cancelled Sleep", n)
	}
}

func TestFakeBlockUntil(t *testing.T) {
	ctx := context.Background()
	c := NewFake(start)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.BlockUntil(cancelled, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("BlockUntil without timers on a cancelled context = %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- c.BlockUntil(ctx, 2) }()
	c.NewTimer(time.Second)
	select {
	case err := <-done:
		t.Fatalf("BlockUntil(2) returned with one timer: %v", err)
	default:
	}
	c.AfterFunc(time.Second, func() {})
	if err := receive(t, "BlockUntil(2) with two timers", done); err != nil {
		t.Fatal(err)
	}
	if err := c.BlockUntil(cancelled, 2); err != nil {
		t.Errorf("BlockUntil with the timers already there = %v", err)
	}
}

func TestFakeNext(t *testing.T) {
	c := NewFake(start)
	if next, ok := c.Next(); ok {
		t.Errorf("Next without timers = %v, true", next)
	}
	c.NewTimer(3 * time.Second)
	early := c.AfterFunc(time.Second, func() {})
	c.NewTicker(2 * time.Second)
	if next, ok := c.Next(); !ok || !next.Equal(at(time.Second)) {
		t.Errorf("Next = %v, %v; want %v", next, ok, at(time.Second))
	}
	early.Stop()
	if next, ok := c.Next(); !ok || !next.Equal(at(2*time.Second)) {
		t.Errorf("Next after Stop = %v, %v; want %v", next, ok, at(2*time.Second))
	}
}

func TestWithTimeout(t *testing.T) {
	errLimit := errors.New("over the limit")
	parent := context.Background()
	c := NewFake(start)

	ctx, cancel := WithTimeout(parent, c, 10*time.Second, errLimit)
	defer cancel()
	c.Advance(10*time.Second - 1)
	if err := ctx.Err(); err != nil || c.Timers() != 1 {
		t.Fatalf("before the deadline: %v, %d timers", err, c.Timers())
	}
	c.Advance(1)
	receive(t, "the context at its deadline", ctx.Done())
	if cause := context.Cause(ctx); cause != errLimit || !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("at the deadline: cause %v, err %v; want %v", cause, ctx.Err(), errLimit)
	}

	// Cancelled first, the context has no deadline left on the clock.
	ctx, cancel = WithTimeout(parent, c, 10*time.Second, errLimit)
	cancel()
	if n := c.Timers(); n != 0 {
		t.Errorf("%d timers wait after cancel", n)
	}
	c.Advance(time.Hour)
	if cause := context.Cause(ctx); cause != context.Canceled {
		t.Errorf("cancelled before the deadline: cause %v, want context.Canceled", cause)
	}

	// The parent's end ends it too.
	errParent := errors.New("parent gone")
	p, cancelParent := context.WithCancelCause(parent)
	ctx, cancel = WithTimeout(p, c, 10*time.Second, errLimit)
	defer cancel()
	cancelParent(errParent)
	receive(t, "the context of a cancelled parent", ctx.Done())
	if cause := context.Cause(ctx); cause != errParent {
		t.Errorf("after the parent ended: cause %v, want %v", cause, errParent)
	}
}

func TestReal(t *testing.T) {
	ctx := context.Background()
	if Or(nil) != Real {
		t.Error("Or(nil) is not Real")
	}
	if f := NewFake(start); Or(f) != f {
		t.Error("Or(c) is not c")
	}
	t0 := Real.Now()
	ran := make(chan struct{})
	Real.AfterFunc(time.Millisecond, func() { close(ran) })
	receive(t, "Real.AfterFunc", ran)
	if err := Real.Sleep(ctx, time.Millisecond); err != nil {
		t.Errorf("Real.Sleep = %v", err)
	}
	if d := Real.Since(t0); d < time.Millisecond {
		t.Errorf("Since after sleeping 1ms = %v", d)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := Real.Sleep(cancelled, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Real.Sleep on a cancelled context = %v", err)
	}
	receive(t, "Real.After", Real.After(time.Millisecond))
	tm := Real.NewTimer(time.Hour)
	if !tm.Stop() {
		t.Error("stopping an unfired real timer reported false")
	}
	tk := Real.NewTicker(time.Millisecond)
	receive(t, "a real tick", tk.C())
	tk.Stop()
	errLimit := errors.New("over the limit")
	tctx, tcancel := WithTimeout(ctx, Real, time.Millisecond, errLimit)
	defer tcancel()
	receive(t, "a real WithTimeout", tctx.Done())
	if cause := context.Cause(tctx); cause != errLimit {
		t.Errorf("real WithTimeout: cause %v, want %v", cause, errLimit)
	}
}
