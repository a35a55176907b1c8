package queue_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/npw-dev/npw/queue"
	"github.com/npw-dev/npw/queue/queuetest"
)

func TestMemQueue(t *testing.T) {
	queuetest.Run(t, func(t *testing.T, name string) queue.Driver {
		q, err := queue.Open(context.Background(), "mem://conformance", name)
		if err != nil {
			t.Fatal(err)
		}
		// A fresh queue: earlier runs of the suite may have left this one.
		if err := q.Destroy(context.Background()); err != nil {
			t.Fatal(err)
		}
		if q, err = queue.Open(context.Background(), "mem://conformance", name); err != nil {
			t.Fatal(err)
		}
		return q.Driver()
	}, queuetest.Options{Lease: 100 * time.Millisecond})
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct{ url, name, want string }{
		{"sqs2://x", "job", `unknown scheme "sqs2" (supported: mem://)`},
		{"::", "job", "want scheme://"},
		{"mem://", "", "bad queue name"},
		{"mem://a/b", "job", "mem:// or mem://space"},
	} {
		if _, err := queue.Open(context.Background(), tc.url, tc.name); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q, %q) = %v, want %q", tc.url, tc.name, err, tc.want)
		}
	}
}
