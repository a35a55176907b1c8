package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/npw-dev/npw/executor"
)

// inLambda reports whether this process is a Lambda function's: the
// provided.al2023 runtime sets AWS_LAMBDA_RUNTIME_API.
func inLambda() bool { return os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" }

// serveLambda runs npw as a Lambda function. Each invocation is one
// worker of a job; its payload is an executor.Remote in JSON.
func serveLambda() {
	tuneWorkerGC()
	lambda.Start(lambdaWorker)
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
