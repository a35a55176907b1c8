// Package sqsqueue is the Amazon SQS driver of the task queue, registered
// for sqs:// URLs:
//
//	sqs://[prefix][?region=...&endpoint=http://host:port&levels=4]
//
// A job's queue is one standard SQS queue per priority level, named
// [prefix-]<name>-p<level>: the job's client creates them all (Create),
// workers only open them, and Destroy deletes them, so nothing of a job
// outlives its cleanup. Priorities in [0, queue.MaxPriority) map evenly
// onto the levels; a receive takes from the highest level that has
// messages (short polls, highest first) and long-polls only when every
// level is empty. Leases are SQS's visibility timeout, renewed with
// ChangeMessageVisibility; the receive count is SQS's
// ApproximateReceiveCount. Sends and acks go in batches of ten.
package sqsqueue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/npw-dev/npw/internal/awsconf"
	"github.com/npw-dev/npw/queue"
)

func init() { queue.Register("sqs", Open) }

// DefaultLevels is the number of priority levels, and of SQS queues per job.
const DefaultLevels = 4

const (
	batch       = 10               // SQS's limit per batch request and per receive
	maxWait     = 20 * time.Second // SQS's longest long poll
	priorityKey = "npw-priority"   // message attribute with the exact priority
)

var validName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// A Driver is one job's queue: a standard SQS queue per priority level.
type Driver struct {
	client   *sqs.Client
	names    []string // queue name per level, level 0 lowest
	urls     []string // queue URL per level
	requests atomic.Int64
	// emptyUntil[l] is when level l, found empty by a short poll, is
	// polled again first (Unix nanoseconds; see emptyHint).
	emptyUntil []atomic.Int64
}

// emptyHint is how long a level that a short poll found empty goes to the
// back of later receives of the same driver, unless the driver sends to
// it meanwhile. Without it every receive polls each empty level above the
// first that has tasks, one request per level, which on a busy queue was
// the largest share of SQS requests. The cost: a task another process
// sends to such a level is taken after the tasks of lower levels for at
// most this long.
const emptyHint = 50 * time.Millisecond

// Requests counts the requests made to SQS (retries not included).
func (d *Driver) Requests() int64 { return d.requests.Load() }

// Open opens (create: makes) the level queues of the named queue.
func Open(ctx context.Context, u *url.URL, name string, create bool) (queue.Driver, error) {
	q := u.Query()
	levels := DefaultLevels
	if s := q.Get("levels"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 16 {
			return nil, fmt.Errorf("levels=%q: want 1 to 16", s)
		}
		levels = n
	}
	base := name
	if u.Host != "" {
		base = u.Host + "-" + name
	}
	if !validName.MatchString(base) || len(base)+4 > 80 {
		return nil, fmt.Errorf("queue name %q: SQS allows up to 80 letters, digits, - and _", base)
	}
	cfg, endpoint, err := awsconf.Load(ctx, u)
	if err != nil {
		return nil, err
	}
	client := sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	d := &Driver{client: client}
	for l := range levels {
		d.names = append(d.names, fmt.Sprintf("%s-p%d", base, l))
	}
	d.urls = make([]string, levels)
	d.emptyUntil = make([]atomic.Int64, levels)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for l, n := range d.names {
		if create {
			out, err := client.CreateQueue(cctx, &sqs.CreateQueueInput{QueueName: aws.String(n)}, fewRetries)
			if err != nil {
				return nil, reach(n, err)
			}
			d.urls[l] = aws.ToString(out.QueueUrl)
			continue
		}
		out, err := client.GetQueueUrl(cctx, &sqs.GetQueueUrlInput{QueueName: aws.String(n)}, fewRetries)
		if err != nil {
			if missing(err) {
				return nil, fmt.Errorf("%w: %s", queue.ErrNoQueue, n)
			}
			return nil, reach(n, err)
		}
		d.urls[l] = aws.ToString(out.QueueUrl)
	}
	return d, nil
}

// fewRetries keeps the checks at open quick on an unreachable endpoint.
func fewRetries(o *sqs.Options) { o.RetryMaxAttempts = 2 }

func reach(name string, err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		return fmt.Errorf("SQS queue %s: %s", name, awsconf.Describe(err))
	}
	return fmt.Errorf("cannot reach SQS for queue %s: %w", name, err)
}

func missing(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	c := api.ErrorCode()
	return c == "AWS.SimpleQueueService.NonExistentQueue" || c == "QueueDoesNotExist" || strings.Contains(c, "NonExistentQueue")
}

// fail maps a missing queue to queue.ErrNoQueue and describes the rest.
func fail(err error) error {
	if missing(err) {
		return queue.ErrNoQueue
	}
	return errors.New(awsconf.Describe(err))
}

func (d *Driver) level(priority int) int {
	l := int(int64(priority) * int64(len(d.urls)) / queue.MaxPriority)
	return min(max(l, 0), len(d.urls)-1)
}

// Send implements queue.Driver.
func (d *Driver) Send(ctx context.Context, msgs []queue.Message) error {
	byLevel := make([][]queue.Message, len(d.urls))
	for _, m := range msgs {
		l := d.level(m.Priority)
		byLevel[l] = append(byLevel[l], m)
	}
	for l, ms := range byLevel {
		if len(ms) > 0 {
			d.emptyUntil[l].Store(0)
		}
		for len(ms) > 0 {
			n := min(len(ms), batch)
			if err := d.sendBatch(ctx, l, ms[:n]); err != nil {
				return err
			}
			ms = ms[n:]
		}
	}
	return nil
}

// sendBatch sends up to ten messages, resending entries SQS failed
// (a batch can succeed in part) a few times.
func (d *Driver) sendBatch(ctx context.Context, l int, ms []queue.Message) error {
	entries := make([]types.SendMessageBatchRequestEntry, len(ms))
	for i, m := range ms {
		entries[i] = types.SendMessageBatchRequestEntry{
			Id:          aws.String(strconv.Itoa(i)),
			MessageBody: aws.String(m.Body),
			MessageAttributes: map[string]types.MessageAttributeValue{
				priorityKey: {DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(m.Priority))},
			},
		}
	}
	for attempt := 0; ; attempt++ {
		d.requests.Add(1)
		out, err := d.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &d.urls[l], Entries: entries})
		if err != nil {
			return fail(err)
		}
		if len(out.Failed) == 0 {
			return nil
		}
		if attempt == 4 {
			f := out.Failed[0]
			return fmt.Errorf("SQS refused %d of %d messages: %s: %s", len(out.Failed), len(entries), aws.ToString(f.Code), aws.ToString(f.Message))
		}
		failed := map[string]bool{}
		for _, f := range out.Failed {
			failed[aws.ToString(f.Id)] = true
		}
		var again []types.SendMessageBatchRequestEntry
		for _, e := range entries {
			if failed[aws.ToString(e.Id)] {
				again = append(again, e)
			}
		}
		entries = again
		time.Sleep(time.Duration(100<<attempt) * time.Millisecond)
	}
}

func seconds(d time.Duration, most time.Duration) int32 {
	return int32(math.Ceil(min(d, most).Seconds()))
}

// Receive implements queue.Driver: short polls from the highest level
// down, first of the levels not recently found empty (emptyHint), then
// of those, and a long poll only when every level is empty.
func (d *Driver) Receive(ctx context.Context, max int, visibility, wait time.Duration) ([]queue.Lease, error) {
	max = min(max, batch)
	vis := seconds(visibility, 12*time.Hour)
	now := time.Now().UnixNano()
	hint := make([]bool, len(d.urls))
	for l := range hint {
		hint[l] = d.emptyUntil[l].Load() > now
	}
	for _, hinted := range []bool{false, true} {
		for l := len(d.urls) - 1; l >= 0; l-- {
			if hint[l] != hinted {
				continue
			}
			leases, err := d.receive(ctx, l, max, vis, 0)
			if err != nil || len(leases) > 0 {
				return leases, err
			}
			d.emptyUntil[l].Store(now + int64(emptyHint))
		}
	}
	if wait <= 0 {
		return nil, nil
	}
	return d.longPoll(ctx, max, vis, seconds(wait, maxWait))
}

// polled is what one receive brought.
type polled struct {
	leases []queue.Lease
	err    error
}

// longPoll waits on every level at once and returns the first messages
// to arrive. Polls still open then go on in the background; messages they
// bring later are released at once (visibility 0) for other receivers.
func (d *Driver) longPoll(ctx context.Context, max int, vis, wait int32) ([]queue.Lease, error) {
	results := make(chan polled, len(d.urls))
	for l := range d.urls {
		go func() {
			leases, err := d.receive(ctx, l, max, vis, wait)
			results <- polled{leases, err}
		}()
	}
	var firstErr error
	for pending := len(d.urls); pending > 0; pending-- {
		r := <-results
		if r.err != nil {
			firstErr = cmp.Or(firstErr, r.err)
			continue
		}
		if len(r.leases) > 0 {
			go d.releaseLate(context.WithoutCancel(ctx), results, pending-1)
			return r.leases, nil
		}
	}
	return nil, firstErr
}

// releaseLate makes the messages of n late polls visible again.
func (d *Driver) releaseLate(ctx context.Context, results <-chan polled, n int) {
	for range n {
		r := <-results
		for _, l := range r.leases {
			d.Extend(ctx, l.Receipt, 0)
		}
	}
}

func (d *Driver) receive(ctx context.Context, l, max int, vis, wait int32) ([]queue.Lease, error) {
	d.requests.Add(1)
	out, err := d.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    &d.urls[l],
		MaxNumberOfMessages:         int32(max),
		VisibilityTimeout:           vis,
		WaitTimeSeconds:             wait,
		MessageAttributeNames:       []string{priorityKey},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		return nil, fail(err)
	}
	leases := make([]queue.Lease, 0, len(out.Messages))
	for _, m := range out.Messages {
		count, _ := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
		prio := 0
		if a, ok := m.MessageAttributes[priorityKey]; ok {
			prio, _ = strconv.Atoi(aws.ToString(a.StringValue))
		}
		leases = append(leases, queue.Lease{Body: aws.ToString(m.Body), Priority: prio,
			Receipt: strconv.Itoa(l) + "|" + aws.ToString(m.ReceiptHandle), ReceiveCount: count})
	}
	return leases, nil
}

// split reads a receipt back into its level and SQS receipt handle.
func (d *Driver) split(receipt string) (int, string, error) {
	ls, handle, ok := strings.Cut(receipt, "|")
	l, err := strconv.Atoi(ls)
	if !ok || err != nil || l < 0 || l >= len(d.urls) {
		return 0, "", fmt.Errorf("%w: malformed receipt", queue.ErrLeaseLost)
	}
	return l, handle, nil
}

// stale reports SQS's answers for a receipt whose lease is over.
func stale(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode() {
	case "ReceiptHandleIsInvalid", "InvalidParameterValue", "MessageNotInflight",
		"AWS.SimpleQueueService.MessageNotInflight", "InvalidReceiptHandle":
		return true
	}
	return false
}

// Extend implements queue.Driver.
func (d *Driver) Extend(ctx context.Context, receipt string, visibility time.Duration) error {
	l, handle, err := d.split(receipt)
	if err != nil {
		return err
	}
	d.requests.Add(1)
	_, err = d.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: &d.urls[l], ReceiptHandle: &handle, VisibilityTimeout: seconds(visibility, 12*time.Hour)})
	if err != nil {
		if stale(err) {
			return fmt.Errorf("%w: %s", queue.ErrLeaseLost, awsconf.Describe(err))
		}
		return fail(err)
	}
	return nil
}

// Ack implements queue.Driver.
func (d *Driver) Ack(ctx context.Context, receipts []string) error {
	byLevel := make([][]string, len(d.urls))
	var lost error
	for _, r := range receipts {
		l, handle, err := d.split(r)
		if err != nil {
			lost = err
			continue
		}
		byLevel[l] = append(byLevel[l], handle)
	}
	for l, hs := range byLevel {
		for len(hs) > 0 {
			n := min(len(hs), batch)
			entries := make([]types.DeleteMessageBatchRequestEntry, n)
			for i, h := range hs[:n] {
				entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h)}
			}
			d.requests.Add(1)
			out, err := d.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &d.urls[l], Entries: entries})
			if err != nil {
				return fail(err)
			}
			if len(out.Failed) > 0 {
				f := out.Failed[0]
				lost = fmt.Errorf("%w: %s: %s", queue.ErrLeaseLost, aws.ToString(f.Code), aws.ToString(f.Message))
			}
			hs = hs[n:]
		}
	}
	return lost
}

// Depth implements queue.Driver, summing SQS's approximate counts.
func (d *Driver) Depth(ctx context.Context) (visible, inflight int, err error) {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for l := range d.urls {
		wg.Go(func() {
			d.requests.Add(1)
			out, err := d.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &d.urls[l],
				AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages,
					types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fail(err))
				return
			}
			v, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
			f, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
			visible += v
			inflight += f
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return 0, 0, errs[0]
	}
	return visible, inflight, nil
}

// Destroy implements queue.Driver: it deletes every level's queue.
func (d *Driver) Destroy(ctx context.Context) error {
	var errs []error
	for l := range d.urls {
		d.requests.Add(1)
		if _, err := d.client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: &d.urls[l]}); err != nil && !missing(err) {
			errs = append(errs, fmt.Errorf("delete %s: %s", d.names[l], awsconf.Describe(err)))
		}
	}
	return errors.Join(errs...)
}

// Close implements queue.Driver.
func (d *Driver) Close() error { return nil }
