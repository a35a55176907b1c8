// Package registry maps URL schemes to drivers' openers, for the
// packages that pick a backend by URL (tile store, queue, state store),
// and keeps named in-process instances for their mem:// drivers.
package registry

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/npw-dev/npw/internal/secret"
)

// A Registry maps URL schemes to openers of type O.
type Registry[O any] struct {
	kind    string // "tile store", for messages
	mu      sync.Mutex
	openers map[string]O
}

// New returns an empty registry for one kind of service.
func New[O any](kind string) *Registry[O] {
	return &Registry[O]{kind: kind, openers: map[string]O{}}
}

// Register adds an opener for a scheme.
func (r *Registry[O]) Register(scheme string, open O) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.openers[scheme] = open
}

// Schemes lists the registered schemes as "file://, mem://".
func (r *Registry[O]) Schemes() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []string
	for k := range r.openers {
		s = append(s, k+"://")
	}
	slices.Sort(s)
	return strings.Join(s, ", ")
}

// Lookup parses a URL and returns the opener of its scheme, or an error
// that names the supported schemes.
func (r *Registry[O]) Lookup(rawurl string) (O, *url.URL, error) {
	var zero O
	u, err := url.Parse(rawurl)
	if err != nil || u.Scheme == "" {
		return zero, nil, fmt.Errorf("%s URL %q: want scheme://..., one of %s", r.kind, secret.Redact(rawurl), r.Schemes())
	}
	r.mu.Lock()
	open, ok := r.openers[u.Scheme]
	r.mu.Unlock()
	if !ok {
		return zero, nil, fmt.Errorf("%s URL %q: unknown scheme %q (supported: %s)", r.kind, secret.Redact(rawurl), u.Scheme, r.Schemes())
	}
	return open, u, nil
}

// Instances keeps named in-process instances, so that every opener of
// mem://name shares one.
type Instances[T any] struct {
	mu    sync.Mutex
	items map[string]T
}

// Get returns the instance called name, making it with create if needed.
func (in *Instances[T]) Get(name string, create func() T) T {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.items == nil {
		in.items = map[string]T{}
	}
	t, ok := in.items[name]
	if !ok {
		t = create()
		in.items[name] = t
	}
	return t
}

// Remove forgets the instance called name if it is still t's.
func (in *Instances[T]) Remove(name string, same func(T) bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if t, ok := in.items[name]; ok && same(t) {
		delete(in.items, name)
	}
}
