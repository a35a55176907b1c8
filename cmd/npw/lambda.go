package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	engine "github.com/npw-dev/npw"
	"github.com/npw-dev/npw/executor"
)

// inLambda reports whether this process is a Lambda function's: the
// provided.al2023 runtime sets AWS_LAMBDA_RUNTIME_API.
func inLambda() bool { return os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" }

// serveLambda runs npw as a Lambda function. Each invocation is one
// worker of a job, its payload an executor.Remote in JSON; or, with the
// payload {"provision": ...}, one round of a job's provisioner
// (engine.ProvisionInLambda).
func serveLambda() {
	tuneWorkerGC()
	lambda.Start(lambdaHandler)
}

// lambdaHandler serves one invocation, a worker's or a provisioner's.
func lambdaHandler(ctx context.Context, payload json.RawMessage) (any, error) {
	var p struct {
		Provision *engine.LambdaProvision `json:"provision"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, fmt.Errorf("the invocation's payload: %w", err)
	}
	if p.Provision != nil {
		return lambdaProvisioner(ctx, *p.Provision)
	}
	var r executor.Remote
	if err := json.Unmarshal(payload, &r); err != nil {
		return nil, fmt.Errorf("the invocation's payload: %w", err)
	}
	return lambdaWorker(ctx, r)
}

// A provisionReport is what a provisioner's invocation returns.
type provisionReport struct {
	Job      string `json:"job"`
	Round    int    `json:"round"`
	HandedOn bool   `json:"handed_on"`
	Phase    string `json:"phase,omitempty"`
	Error    string `json:"error,omitempty"`
}

// lambdaProvisioner serves one round of a job's provisioner. Its errors
// are logged and reported, not returned: Lambda retries an asynchronous
// invocation that fails, which would run two provisioners at once.
func lambdaProvisioner(ctx context.Context, p engine.LambdaProvision) (provisionReport, error) {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	log.Info("provisioning", "job", p.Job, "round", p.Round, "workers handed over", len(p.Lambda.Launched))
	res, err := engine.ProvisionInLambda(ctx, p, log)
	rep := provisionReport{Job: p.Job, Round: p.Round, HandedOn: res == nil && err == nil}
	if res != nil {
		rep.Phase = string(res.Status.Phase)
	}
	if err != nil {
		rep.Error = err.Error()
		log.Error("provisioning failed", "job", p.Job, "round", p.Round, "err", err)
	}
	return rep, nil
}

// lambdaWorker serves one invocation: it works until shortly before the
// invocation's deadline (never leasing a task it cannot finish), then
// returns its report, which it has also left in the state store.
func lambdaWorker(ctx context.Context, r executor.Remote) (executor.Report, error) {
	if deadline, ok := ctx.Deadline(); ok {
		left := time.Until(deadline)
		limit := left - max(2*time.Second, left/20) // time to record and report
		if r.RuntimeLimit <= 0 || r.RuntimeLimit > limit {
			r.RuntimeLimit = limit
		}
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok && r.ID == "" {
		r.ID = lc.AwsRequestID
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)) // to CloudWatch Logs
	return executor.Serve(ctx, r, log)
}
