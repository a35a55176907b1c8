package executor

import (
	"context"
	"time"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/queue"
	"github.com/npw-dev/npw/state"
)

// The interfaces below are what a worker needs from the tile store, the
// queue and the state store; *blockstore.Store, *queue.Queue and
// *state.Store satisfy them, and tests wrap them to inject faults.

// The services satisfy the interfaces, and the tile store its
// capabilities: a method renamed in blockstore must not silently turn a
// capability off.
var (
	_ Tiles         = (*blockstore.Store)(nil)
	_ PrivateReader = (*blockstore.Store)(nil)
	_ Lender        = (*blockstore.Store)(nil)
	_ Queue         = (*queue.Queue)(nil)
	_ State         = (*state.Store)(nil)
)

// Tiles reads and writes tiles.
type Tiles interface {
	GetTile(ctx context.Context, key string) (blas64.General, int, error)
	// AdoptTile writes a kernel's output tile, which is not modified
	// afterwards (the store may keep it without a copy).
	AdoptTile(ctx context.Context, key string, g blas64.General) (int, error)
	Delete(ctx context.Context, keys ...string) error
}

// A PrivateReader is a tile store that says whether every tile GetTile
// returns is the caller's own memory (S3, files: a fresh copy per read),
// which a kernel may then update in place and the worker may cache. A
// store without the method shares the memory of its tiles.
type PrivateReader interface {
	PrivateReads() bool
}

// A Lender is a tile store in the worker's own process that lends a
// scratch tile to the one task that reads it, to update in place instead
// of copying it (blockstore.Lender says how loans end). Lends says whether
// this store can.
type Lender interface {
	Lends() bool
	LendTile(ctx context.Context, key string) (blas64.General, int, error)
	ReturnTile(key string)
	SpendTile(key string)
}

// Queue leases tasks.
type Queue interface {
	Send(ctx context.Context, msgs ...queue.Message) error
	Receive(ctx context.Context, max int, visibility, wait time.Duration) ([]queue.Lease, error)
	Extend(ctx context.Context, receipt string, visibility time.Duration) error
	Ack(ctx context.Context, receipts ...string) error
}

// State records progress.
type State interface {
	Complete(ctx context.Context, job string, c state.Completion) (state.Outcome, error)
	IsDone(ctx context.Context, job, task string) (bool, error)
	ReadyAfter(ctx context.Context, job, parent string, children []state.Edge) ([]string, error)
	RecordFailure(ctx context.Context, job, task string) (int, error)
	Fail(ctx context.Context, job, msg string) error
	Status(ctx context.Context, job string) (state.Status, error)
}
