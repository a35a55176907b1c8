package provisioner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/npw-dev/npw/clock"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/internal/awsconf"
	"github.com/npw-dev/npw/state"
)

// An Invoker calls the Lambda API (a *lambda.Client).
type Invoker interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
	GetFunction(ctx context.Context, in *lambda.GetFunctionInput, opts ...func(*lambda.Options)) (*lambda.GetFunctionOutput, error)
}

// Reports is where workers that run elsewhere leave their reports: the
// job's state store.
type Reports interface {
	Status(ctx context.Context, job string) (state.Status, error)
	WorkerReports(ctx context.Context, job string) ([][]byte, error)
}

// Lambda launches workers as asynchronous invocations (InvocationType
// Event) of a Lambda function that runs npw (see `npw deploy lambda`),
// each with the job's executor.Remote as its payload. Nothing comes back
// from an asynchronous invocation, so a worker counts as running from its
// launch until its report reaches the state store or the function's
// timeout has passed (a worker killed at the timeout never reports).
type Lambda struct {
	client   Invoker
	function string
	remote   executor.Remote
	timeout  time.Duration
	reports  Reports

	mu       sync.Mutex
	seq      int
	launched map[string]time.Time
	got      map[string]executor.Report
	count    int64 // reports seen in the last refresh
	checked  time.Time
	closer   io.Closer // the state store LambdaPool opened, closed by Wait
	// Clock is the launcher's time (default clock.Real).
	Clock clock.Clock
}

// NewLambda checks that the function exists and reads its timeout.
func NewLambda(ctx context.Context, client Invoker, function string, remote executor.Remote, reports Reports) (*Lambda, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	out, err := client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(function)}, func(o *lambda.Options) { o.RetryMaxAttempts = 2 })
	if err != nil {
		var missing *types.ResourceNotFoundException
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("Lambda function %s does not exist (deploy it with: npw deploy lambda --function %s --role ARN)", function, function)
		}
		return nil, fmt.Errorf("Lambda function %s: %s", function, awsconf.Describe(err))
	}
	timeout := 15 * time.Minute
	if c := out.Configuration; c != nil && c.Timeout != nil {
		timeout = time.Duration(*c.Timeout) * time.Second
	}
	return &Lambda{client: client, function: function, remote: remote, timeout: timeout, reports: reports,
		launched: map[string]time.Time{}, got: map[string]executor.Report{}}, nil
}

// Launch implements Launcher.
func (l *Lambda) Launch(ctx context.Context) error {
	l.mu.Lock()
	l.seq++
	r := l.remote
	r.ID = fmt.Sprintf("λ%d", l.seq)
	l.mu.Unlock()
	payload, err := json.Marshal(r)
	if err != nil {
		return err
	}
	launched := l.clock().Now()
	_, err = l.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(l.function),
		InvocationType: types.InvocationTypeEvent, Payload: payload})
	if err != nil {
		return fmt.Errorf("invoke %s: %s", l.function, awsconf.Describe(err))
	}
	l.mu.Lock()
	l.launched[r.ID] = launched
	l.mu.Unlock()
	return nil
}

func (l *Lambda) clock() clock.Clock { return clock.Or(l.Clock) }

// refresh reads the reports that arrived, at most every 200 ms.
func (l *Lambda) refresh() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.clock().Since(l.checked) < 200*time.Millisecond {
		return
	}
	l.checked = l.clock().Now()
	ctx, cancel := clock.WithTimeout(context.Background(), l.clock(), 10*time.Second, errors.New("reading the worker reports timed out"))
	defer cancel()
	st, err := l.reports.Status(ctx, l.remote.Job)
	if err != nil || st.Workers == l.count {
		return
	}
	raw, err := l.reports.WorkerReports(ctx, l.remote.Job)
	if err != nil {
		return
	}
	l.count = int64(len(raw))
	for _, b := range raw {
		var rep executor.Report
		if json.Unmarshal(b, &rep) == nil {
			l.got[rep.Worker] = rep
		}
	}
}

// running counts launched workers not heard from and not past the
// function's timeout.
func (l *Lambda) running() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for id, at := range l.launched {
		if _, ok := l.got[id]; !ok && l.clock().Since(at) < l.timeout+5*time.Second {
			n++
		}
	}
	return n
}

// Running implements Launcher.
func (l *Lambda) Running() int {
	l.refresh()
	return l.running()
}

// A LambdaState is what a Lambda launcher hands to its successor when a
// job's provisioner runs as a chain of Lambda invocations, each handing
// the job to the next before its own timeout: the workers launched and
// not yet heard from, and the last worker number used.
type LambdaState struct {
	Seq      int                  `json:"seq"`
	Launched map[string]time.Time `json:"launched,omitempty"`
}

// Handoff stops the launcher without waiting for its workers, which run
// on: it returns what a successor needs to count them (Resume), and
// closes the state store LambdaPool opened.
func (l *Lambda) Handoff() LambdaState {
	l.refresh()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := LambdaState{Seq: l.seq, Launched: map[string]time.Time{}}
	for id, at := range l.launched {
		if _, ok := l.got[id]; !ok && l.clock().Since(at) < l.timeout+5*time.Second {
			s.Launched[id] = at
		}
	}
	if l.closer != nil {
		l.closer.Close()
		l.closer = nil
	}
	return s
}

// Resume takes over the workers a predecessor handed off: they count as
// running until they report or time out, and new workers are numbered
// after them.
func (l *Lambda) Resume(s LambdaState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq = max(l.seq, s.Seq)
	for id, at := range s.Launched {
		l.launched[id] = at
	}
}

// Grace is how long Wait gives workers to report once the job is over;
// they stop on their own when they see it end.
var Grace = 30 * time.Second

// Wait implements Pool: it waits until every worker has reported (or
// outlived the function's timeout), or Grace has passed.
func (l *Lambda) Wait() []WorkerReport {
	clk := l.clock()
	for end := clk.Now().Add(Grace); l.Running() > 0 && clk.Now().Before(end); {
		clk.Sleep(context.Background(), 100*time.Millisecond)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closer != nil {
		defer l.closer.Close()
	}
	var out []WorkerReport
	for id, at := range l.launched {
		rep, ok := l.got[id]
		if !ok {
			stopped := clk.Now()
			if end := at.Add(l.timeout); end.Before(stopped) {
				stopped = end
			}
			rep = executor.Report{Worker: id, Started: at, Stopped: stopped, Reason: "no report (still running, timed out or crashed)"}
		}
		out = append(out, WorkerReport{Report: rep, Launched: at})
	}
	return out
}

// LambdaPool returns a job.Options.Pool that launches workers as
// invocations of the named function, through the AWS SDK's default
// configuration (AWS_ENDPOINT_URL_LAMBDA points it at an emulator).
func LambdaPool(function string) func(executor.Remote) (Pool, error) {
	return LambdaPoolResuming(function, LambdaState{})
}

// LambdaPoolResuming is LambdaPool for the successor of a provisioner
// that handed its workers off (Lambda.Handoff).
func LambdaPoolResuming(function string, from LambdaState) func(executor.Remote) (Pool, error) {
	return func(r executor.Remote) (Pool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		client, err := lambdaClient(ctx)
		if err != nil {
			return nil, err
		}
		st, err := state.Open(ctx, r.State)
		if err != nil {
			return nil, err
		}
		l, err := NewLambda(ctx, client, function, r, st)
		if err != nil {
			st.Close()
			return nil, err
		}
		l.closer = st
		l.Resume(from)
		return l, nil
	}
}

// InvokeAsync invokes a Lambda function once, asynchronously (an Event
// invocation), with payload, through the AWS SDK's default configuration.
func InvokeAsync(ctx context.Context, function string, payload []byte) error {
	client, err := lambdaClient(ctx)
	if err != nil {
		return err
	}
	_, err = client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(function),
		InvocationType: types.InvocationTypeEvent, Payload: payload})
	if err != nil {
		return fmt.Errorf("invoke %s: %s", function, awsconf.Describe(err))
	}
	return nil
}

// lambdaClient is a Lambda API client of the AWS SDK's default
// configuration (AWS_ENDPOINT_URL_LAMBDA points it at an emulator).
func lambdaClient(ctx context.Context) (*lambda.Client, error) {
	cfg, _, err := awsconf.Load(ctx, &url.URL{})
	if err != nil {
		return nil, err
	}
	return lambda.NewFromConfig(cfg), nil
}
