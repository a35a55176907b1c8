package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/spf13/cobra"

	"github.com/npw-dev/npw/internal/awsconf"
)

func newDeployCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Deploy npw's workers to AWS Lambda, and print the IAM policy they need",
	}
	cmd.AddCommand(newDeployLambdaCmd(), newDeployPolicyCmd())
	return cmd
}

type deployOptions struct {
	function, role, arch string
	binary, source, zip  string
	memory               int32
	timeout              time.Duration
	env                  []string
}

func newDeployLambdaCmd() *cobra.Command {
	var o deployOptions
	cmd := &cobra.Command{
		Use:   "lambda [--function npw] [--role ARN] [--memory MB] [--timeout D] [--arch arm64|x86_64]",
		Short: "Build the provided.al2023 zip of npw and create or update the Lambda function",
		Long: `Deploy lambda builds npw for Lambda's provided.al2023 runtime — a static
Linux binary named bootstrap (CGO_ENABLED=0, -tags lambda.norpc), zipped —
from the npw source checkout it runs in (or --source DIR), or zips the
Linux executable given with --binary. It then creates the function (a role
is required; see 'npw deploy policy' for its policy) or updates its code
and configuration, and waits until the function is ready. With --zip FILE
it only writes the zip. The AWS SDK's default configuration applies
(AWS_REGION, credentials, AWS_ENDPOINT_URL_LAMBDA).

Jobs then use it with --launch lambda --function NAME; each invocation is
one worker, which stops itself shortly before the timeout.`,
		Example: `  npw deploy lambda --function npw --role arn:aws:iam::123456789012:role/npw-worker
  npw deploy lambda --zip npw-lambda.zip --arch x86_64`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return deployLambda(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.function, "function", envOr("NPW_FUNCTION", "npw"), "the function's `NAME`")
	f.StringVar(&o.role, "role", "", "the execution role's `ARN` (needed to create the function)")
	f.Int32Var(&o.memory, "memory", 3008, "memory in `MB` (Lambda gives one vCPU per 1769 MB)")
	f.DurationVar(&o.timeout, "timeout", 15*time.Minute, "the invocation timeout (at most 15m)")
	f.StringVar(&o.arch, "arch", "arm64", "the function's architecture: arm64 or x86_64")
	f.StringVar(&o.binary, "binary", "", "zip this Linux executable as bootstrap instead of building")
	f.StringVar(&o.source, "source", "", "the npw source checkout to build (default: the one around the working directory)")
	f.StringVar(&o.zip, "zip", "", "only write the zip to `FILE`")
	f.StringArrayVar(&o.env, "env", nil, "an environment variable of the function, `NAME=VALUE` (repeatable)")
	return cmd
}

func deployLambda(ctx context.Context, stdout io.Writer, o deployOptions) error {
	goarch := map[string]string{"arm64": "arm64", "x86_64": "amd64"}[o.arch]
	if goarch == "" {
		return usagef("--arch %q: want arm64 or x86_64", o.arch)
	}
	if o.timeout < time.Second || o.timeout > 15*time.Minute {
		return usagef("--timeout %v: Lambda allows 1s to 15m", o.timeout)
	}
	if o.memory < 128 || o.memory > 10240 {
		return usagef("--memory %d: Lambda allows 128 to 10240 MB", o.memory)
	}
	vars := map[string]string{}
	for _, kv := range o.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usagef("--env %q: want NAME=VALUE", kv)
		}
		vars[k] = v
	}
	zipped, err := lambdaZip(ctx, o, goarch)
	if err != nil {
		return err
	}
	if o.zip != "" {
		if err := os.WriteFile(o.zip, zipped, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s (%d bytes, bootstrap for provided.al2023 on %s)\n", o.zip, len(zipped), o.arch)
		return nil
	}
	cfg, _, err := awsconf.Load(ctx, &url.URL{})
	if err != nil {
		return err
	}
	client := lambda.NewFromConfig(cfg)
	arch := []types.Architecture{types.Architecture(o.arch)}
	timeout := int32(o.timeout / time.Second)
	var env *types.Environment
	if len(vars) > 0 {
		env = &types.Environment{Variables: vars}
	}
	_, err = client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &o.function})
	var missing *types.ResourceNotFoundException
	switch {
	case errors.As(err, &missing):
		if o.role == "" {
			return usagef("function %s does not exist: creating it needs --role ARN (see npw deploy policy)", o.function)
		}
		out, err := client.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: &o.function,
			Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"), Role: &o.role,
			Code: &types.FunctionCode{ZipFile: zipped}, Architectures: arch, MemorySize: &o.memory, Timeout: &timeout,
			Environment: env, Description: aws.String("npw worker: one invocation serves one job's tasks")})
		if err != nil {
			return fmt.Errorf("create function %s: %s", o.function, awsconf.Describe(err))
		}
		if err := lambda.NewFunctionActiveV2Waiter(client).Wait(ctx, &lambda.GetFunctionInput{FunctionName: &o.function}, 5*time.Minute); err != nil {
			return fmt.Errorf("function %s did not become active: %w", o.function, err)
		}
		fmt.Fprintf(stdout, "created %s (%s, %d MB, timeout %v, %d-byte zip)\n", aws.ToString(out.FunctionArn), o.arch, o.memory, o.timeout, len(zipped))
	case err != nil:
		return fmt.Errorf("function %s: %s", o.function, awsconf.Describe(err))
	default:
		updated := lambda.NewFunctionUpdatedV2Waiter(client)
		get := &lambda.GetFunctionInput{FunctionName: &o.function}
		if _, err := client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: &o.function,
			ZipFile: zipped, Architectures: arch}); err != nil {
			return fmt.Errorf("update the code of %s: %s", o.function, awsconf.Describe(err))
		}
		if err := updated.Wait(ctx, get, 5*time.Minute); err != nil {
			return fmt.Errorf("function %s: %w", o.function, err)
		}
		in := &lambda.UpdateFunctionConfigurationInput{FunctionName: &o.function, MemorySize: &o.memory,
			Timeout: &timeout, Environment: env}
		if o.role != "" {
			in.Role = &o.role
		}
		out, err := client.UpdateFunctionConfiguration(ctx, in)
		if err != nil {
			return fmt.Errorf("update the configuration of %s: %s", o.function, awsconf.Describe(err))
		}
		if err := updated.Wait(ctx, get, 5*time.Minute); err != nil {
			return fmt.Errorf("function %s: %w", o.function, err)
		}
		fmt.Fprintf(stdout, "updated %s (%s, %d MB, timeout %v, %d-byte zip)\n", aws.ToString(out.FunctionArn), o.arch, o.memory, o.timeout, len(zipped))
	}
	return nil
}

// lambdaZip returns the deployment package: bootstrap at the root.
func lambdaZip(ctx context.Context, o deployOptions, goarch string) ([]byte, error) {
	binary := o.binary
	if binary == "" {
		dir, err := os.MkdirTemp("", "npw-lambda-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "bootstrap")
		if err := buildForLambda(ctx, o.source, goarch, binary); err != nil {
			return nil, err
		}
	}
	exe, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	if len(exe) < 4 || string(exe[:4]) != "\x7fELF" {
		return nil, fmt.Errorf("%s is not a Linux executable", binary)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	h.Modified = time.Now()
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(exe); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// buildForLambda compiles cmd/npw of the source checkout for Lambda.
func buildForLambda(ctx context.Context, source, goarch, out string) error {
	if source == "" {
		dir, err := os.Getwd()
		if err != nil {
			return err
		}
		for {
			if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(data), "module github.com/npw-dev/npw\n") {
				source = dir
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return errors.New("no npw source checkout around the working directory: run from one, give --source DIR, or --binary FILE")
			}
			dir = parent
		}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return errors.New("building for Lambda needs the Go toolchain in PATH (or give --binary FILE)")
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags", "-s -w", "-o", out, "./cmd/npw")
	cmd.Dir = source
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build for linux/%s: %v: %s", goarch, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

func newDeployPolicyCmd() *cobra.Command {
	var store, queue, region, account, function, who string
	cmd := &cobra.Command{
		Use:   "policy --store s3://bucket/prefix --queue sqs://[prefix] [--for worker|client]",
		Short: "Print the least-privilege IAM policy of npw's workers (or of a client)",
		Long: `Policy prints an IAM policy document (JSON) with only what npw needs.

For the workers' role (--for worker, the default): read, write and
delete tiles under the store's prefix (and list it, so that a missing
tile reads as missing), use the jobs' queues — receive, send, delete,
renew leases, look them up — and write the function's logs. Workers
never create or delete queues. For a client that runs jobs (--for
client): the same tiles, creating and deleting the jobs' queues, and
invoking the function. Redis is reached over the network (its password
or TLS), not through IAM.`,
		Example: `  npw deploy policy --store s3://my-bucket/npw --queue sqs:// --region us-east-1 --account 123456789012`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			doc, err := iamPolicy(store, queue, region, account, function, who)
			if err != nil {
				return err
			}
			out, _ := json.MarshalIndent(doc, "", "  ")
			fmt.Fprintln(cmd.OutOrStdout(), string(out))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&store, "store", os.Getenv("NPW_STORE"), "the tile store `URL` (s3://bucket/prefix; default $NPW_STORE)")
	f.StringVar(&queue, "queue", envOr("NPW_QUEUE", "sqs://"), "the queue `URL` (sqs://[prefix]; default $NPW_QUEUE)")
	f.StringVar(&region, "region", envOr("AWS_REGION", "*"), "the AWS region (default $AWS_REGION)")
	f.StringVar(&account, "account", "*", "the AWS account ID")
	f.StringVar(&function, "function", envOr("NPW_FUNCTION", "npw"), "the Lambda function's `NAME`")
	f.StringVar(&who, "for", "worker", "whose policy: worker or client")
	return cmd
}

type statement struct {
	Sid       string         `json:"Sid"`
	Effect    string         `json:"Effect"`
	Action    []string       `json:"Action"`
	Resource  []string       `json:"Resource"`
	Condition map[string]any `json:"Condition,omitempty"`
}

// iamPolicy builds the policy document of --for worker or client.
func iamPolicy(store, queue, region, account, function, who string) (map[string]any, error) {
	su, err := url.Parse(store)
	if err != nil || su.Scheme != "s3" || su.Host == "" {
		return nil, usagef("--store %q: want s3://bucket/prefix", store)
	}
	qu, err := url.Parse(queue)
	if err != nil || qu.Scheme != "sqs" {
		return nil, usagef("--queue %q: want sqs://[prefix]", queue)
	}
	if who != "worker" && who != "client" {
		return nil, usagef("--for %q: want worker or client", who)
	}
	prefix := strings.Trim(su.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	queues := "npw-*"
	if qu.Host != "" {
		queues = qu.Host + "-npw-*"
	}
	queueARN := fmt.Sprintf("arn:aws:sqs:%s:%s:%s", region, account, queues)
	tiles := []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}
	stmts := []statement{
		{Sid: "Tiles", Effect: "Allow", Action: tiles, Resource: []string{fmt.Sprintf("arn:aws:s3:::%s/%sjobs/*", su.Host, prefix)}},
		{Sid: "ListTiles", Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: []string{"arn:aws:s3:::" + su.Host},
			Condition: map[string]any{"StringLike": map[string]any{"s3:prefix": []string{prefix + "jobs/*"}}}},
	}
	queueActions := []string{"sqs:ReceiveMessage", "sqs:SendMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
		"sqs:GetQueueUrl", "sqs:GetQueueAttributes"}
	if who == "worker" {
		stmts = append(stmts,
			statement{Sid: "JobQueues", Effect: "Allow", Action: queueActions, Resource: []string{queueARN}},
			statement{Sid: "Logs", Effect: "Allow", Action: []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
				Resource: []string{fmt.Sprintf("arn:aws:logs:%s:%s:log-group:/aws/lambda/%s", region, account, function),
					fmt.Sprintf("arn:aws:logs:%s:%s:log-group:/aws/lambda/%s:*", region, account, function)}})
	} else {
		stmts = append(stmts,
			statement{Sid: "JobQueues", Effect: "Allow", Action: append(queueActions, "sqs:CreateQueue", "sqs:DeleteQueue"), Resource: []string{queueARN}},
			statement{Sid: "Workers", Effect: "Allow", Action: []string{"lambda:InvokeFunction", "lambda:GetFunction"},
				Resource: []string{fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, account, function)}})
	}
	return map[string]any{"Version": "2012-10-17", "Statement": stmts}, nil
}
