package blockstore

import (
	"context"
	"errors"
	"net/url"

	"github.com/npw-dev/npw/internal/registry"
)

// ErrNotFound is returned (wrapped) for a key that holds no object.
var ErrNotFound = errors.New("not found")

// ErrLent is returned (wrapped) for a tile lent to a task that updates it
// in place (Store.LendTile), and ErrSpent for one that such a task has
// updated and written out as its outputs.
var (
	ErrLent  = errors.New("lent to the task that updates it in place")
	ErrSpent = errors.New("updated in place into its task's outputs")
)

// A Driver stores objects under keys. Keys are slash-separated paths
// without a leading slash. Drivers must be safe for concurrent use.
//
// A driver may also have optional capabilities, each a named interface
// of this file that the Store looks for with a type assertion and does
// without when it is missing:
//
//	capability      what the driver does itself        Store methods that use it
//	Copier          copy without moving the bytes      Copy
//	PrefixDeleter   delete a whole prefix at once      DeletePrefix
//	FreshReader     Get returns the caller's own bytes PrivateReads, GetTile
//	Lender          lend an object's own memory        Lends, LendTile, ReturnTile, SpendTile
//	Adopter         keep the caller's buffer           PutTile, AdoptTile
//	RequestCounter  count the requests to its service  Requests
//	RangeReader     read a byte range of an object     ReadRange, RangeReads
//
// The drivers have these:
//
//	driver          Copier  PrefixDeleter  FreshReader  Lender  Adopter  RequestCounter  RangeReader
//	MemDriver       yes                                 yes     yes                      yes
//	FileDriver      yes     yes            yes                                           yes
//	s3store.Driver  yes                    yes                           yes             yes
//
// blockstore/storetest checks the methods of Driver and of every
// capability a driver has.
type Driver interface {
	// Get returns the object, or an error wrapping ErrNotFound. The caller
	// must not modify the returned slice.
	Get(ctx context.Context, key string) ([]byte, error)
	// Put stores a copy of data under key, replacing any object there.
	Put(ctx context.Context, key string, data []byte) error
	// Delete removes the objects; keys that hold nothing are not an error.
	Delete(ctx context.Context, keys []string) error
	// List returns the keys that start with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	Close() error
}

// An Opener opens a driver for a URL of its scheme.
type Opener func(ctx context.Context, u *url.URL) (Driver, error)

var openers = registry.New[Opener]("tile store")

// Register makes a driver available under a URL scheme.
func Register(scheme string, open Opener) { openers.Register(scheme, open) }

// A Copier is a driver that copies objects by itself, without moving the
// data through the caller: by reference in memory, as a hard link on
// disk, server-side on S3. The copy is independent of what later happens
// to src; copying a key onto itself leaves it as it is. Copy returns an
// error wrapping ErrNotFound when src holds nothing.
type Copier interface {
	Copy(ctx context.Context, dst, src string) error
}

// A PrefixDeleter is a driver that removes everything under a prefix in
// one operation (a directory tree, for files). The prefix can be written
// to again afterwards.
type PrefixDeleter interface {
	DeletePrefix(ctx context.Context, prefix string) error
}

// A FreshReader is a driver whose Get returns a new buffer on every call,
// owned by the caller (S3, files; not memory, which shares its bytes),
// when FreshReads says so.
type FreshReader interface {
	FreshReads() bool
}

// A Lender is a driver whose objects live in the caller's own process
// (memory), so that it can lend an object's memory to the one task that
// updates it in place, instead of the task copying it.
//
// Lend takes the object out of the store: reads of its key fail with
// ErrLent while it is lent. The borrower then either gives it back
// unmodified (Return), or, right after computing in it, writes its
// outputs and spends the loan (Spend): reads fail with ErrSpent, which
// tells a later attempt of the task that its outputs are written. There
// is no point between computing and spending at which a borrower in the
// same process can stop, so a loan is never left half updated.
// Deleting the key ends a loan.
type Lender interface {
	// Lend returns memory the caller owns: the object's, or a copy of
	// it when other keys share it. An error wraps ErrNotFound, ErrLent
	// or ErrSpent.
	Lend(key string) ([]byte, error)
	Return(key string)
	Spend(key string)
}

// An Adopter is a driver that can keep the caller's buffer instead of a
// copy of it.
type Adopter interface {
	// Adopt stores data under key; the caller no longer touches data.
	Adopt(ctx context.Context, key string, data []byte) error
}

// A RequestCounter is a driver that counts the requests it makes to its
// service (S3: deletes go a thousand keys to a request, lists a page).
type RequestCounter interface{ Requests() int64 }

// A ClassCounter is a driver that counts its requests by S3's price
// classes: PutRequests those billed at the higher rate (PUT, COPY, POST,
// LIST, each page of a listing), GetRequests those at the lower (GET,
// HEAD). Deletes, which are free, are in neither.
type ClassCounter interface {
	PutRequests() int64
	GetRequests() int64
}

// A RangeReader is a driver that reads part of an object (a file's pread,
// an S3 ranged GET), so that a band of rows can cross a row of tiles
// without reading the whole tiles.
type RangeReader interface {
	// ReadRange reads len(p) bytes of the object under key, from byte off,
	// into p. An error wraps ErrNotFound when key holds nothing, and
	// io.ErrUnexpectedEOF when the object ends before off+len(p).
	ReadRange(ctx context.Context, key string, off int64, p []byte) error
}
