package state_test

import (
	"context"
	"strings"
	"testing"

	"github.com/npw-dev/npw/state"
	"github.com/npw-dev/npw/state/statetest"
)

func TestMemState(t *testing.T) {
	statetest.Run(t, func(t *testing.T) state.Driver { return state.NewMemDriver() })
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"redis2://x", `unknown scheme "redis2" (supported: mem://)`},
		{"mem://a/b", "mem:// or mem://name"},
		{"", "want scheme://"},
	} {
		if _, err := state.Open(context.Background(), tc.url); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want %q", tc.url, err, tc.want)
		}
	}
	s, err := state.Open(context.Background(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Status(context.Background(), "nope"); err == nil || !strings.Contains(err.Error(), "status of job nope: no such job") {
		t.Errorf("wrapped error: %v", err)
	}
}
