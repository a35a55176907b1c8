package sqsqueue_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/npw-dev/npw/internal/localcloud"
	"github.com/npw-dev/npw/queue"
	"github.com/npw-dev/npw/queue/queuetest"
	_ "github.com/npw-dev/npw/queue/sqsqueue"
)

func TestMain(m *testing.M) { localcloud.Main(m) }

func TestSQSQueue(t *testing.T) {
	c := localcloud.Get(t)
	queuetest.Run(t, func(t *testing.T, name string) queue.Driver {
		q, err := queue.Create(context.Background(), c.Queue, fmt.Sprintf("t%d-%s", rand.Uint32(), name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Destroy(context.Background()) })
		return q.Driver()
	}, queuetest.Options{Lease: 2 * time.Second})
}

func TestOpenNeedsCreate(t *testing.T) {
	c := localcloud.Get(t)
	ctx := context.Background()
	name := fmt.Sprintf("t%d-open", rand.Uint32())
	if _, err := queue.Open(ctx, c.Queue, name); !errors.Is(err, queue.ErrNoQueue) {
		t.Fatalf("Open of a queue never created: %v, want ErrNoQueue", err)
	}
	q, err := queue.Create(ctx, c.Queue, name)
	if err != nil {
		t.Fatal(err)
	}
	w, err := queue.Open(ctx, c.Queue, name)
	if err != nil {
		t.Fatalf("Open of a created queue: %v", err)
	}
	if err := q.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Send(ctx, queue.Message{Body: "late"}); !errors.Is(err, queue.ErrNoQueue) {
		t.Fatalf("a send after Destroy: %v, want ErrNoQueue", err)
	}
	if _, err := queue.Open(ctx, c.Queue, name); !errors.Is(err, queue.ErrNoQueue) {
		t.Fatalf("Open after Destroy: %v, want ErrNoQueue", err)
	}
}

func TestOpenErrors(t *testing.T) {
	c := localcloud.Get(t)
	for _, tc := range []struct {
		name, url, qname, want string
		env                    map[string]string
	}{
		{"unreachable", "sqs://?endpoint=http://127.0.0.1:1", "x", "cannot reach SQS for queue x-p0", nil},
		{"bad name", c.Queue, "a.b", `queue name "a.b"`, nil},
		{"bad levels", c.Queue + "&levels=99", "x", "levels=", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := queue.Create(context.Background(), tc.url, tc.qname)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Create = %v, want %q", err, tc.want)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}
