package main

import (
	"archive/zip"
	"bytes"
	"context"
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
	commandGroup(cmd)
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
		Args: noArgs,
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

// check refuses bad flags (usage errors) and a --zip file that cannot
// be written, and returns Go's name of the architecture and the
// function's environment.
func (o *deployOptions) check() (goarch string, env *types.Environment, err error) {
	goarch = map[string]string{"arm64": "arm64", "x86_64": "amd64"}[o.arch]
	if goarch == "" {
		return "", nil, usagef("--arch %q: want arm64 or x86_64", o.arch)
	}
	if o.timeout < time.Second || o.timeout > 15*time.Minute {
		return "", nil, usagef("--timeout %v: Lambda allows 1s to 15m", o.timeout)
	}
	if o.memory < 128 || o.memory > 10240 {
		return "", nil, usagef("--memory %d: Lambda allows 128 to 10240 MB", o.memory)
	}
	vars := map[string]string{}
	for _, kv := range o.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return "", nil, usagef("--env %q: want NAME=VALUE", kv)
		}
		vars[k] = v
	}
	if len(vars) > 0 {
		env = &types.Environment{Variables: vars}
	}
	return goarch, env, checkOutputs(outputPath{"--zip", o.zip})
}

func deployLambda(ctx context.Context, stdout io.Writer, o deployOptions) error {
	goarch, env, err := o.check()
	if err != nil {
		return err
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
	_, err = client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &o.function})
	var missing *types.ResourceNotFoundException
	switch {
	case errors.As(err, &missing):
		return createFunction(ctx, stdout, client, o, zipped, env)
	case err != nil:
		return fmt.Errorf("function %s: %s", o.function, awsconf.Describe(err))
	}
	return updateFunction(ctx, stdout, client, o, zipped, env)
}

// createFunction creates the function and waits until it is active.
func createFunction(ctx context.Context, stdout io.Writer, client *lambda.Client, o deployOptions, zipped []byte, env *types.Environment) error {
	if o.role == "" {
		return usagef("function %s does not exist: creating it needs --role ARN (see npw deploy policy)", o.function)
	}
	timeout := int32(o.timeout / time.Second)
	out, err := client.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: &o.function,
		Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"), Role: &o.role,
		Code: &types.FunctionCode{ZipFile: zipped}, Architectures: []types.Architecture{types.Architecture(o.arch)},
		MemorySize: &o.memory, Timeout: &timeout,
		Environment: env, Description: aws.String("npw worker: one invocation serves one job's tasks")})
	if err != nil {
		return fmt.Errorf("create function %s: %s", o.function, awsconf.Describe(err))
	}
	if err := lambda.NewFunctionActiveV2Waiter(client).Wait(ctx, &lambda.GetFunctionInput{FunctionName: &o.function}, 5*time.Minute); err != nil {
		return fmt.Errorf("function %s did not become active: %w", o.function, err)
	}
	fmt.Fprintf(stdout, "created %s (%s, %d MB, timeout %v, %d-byte zip)\n", aws.ToString(out.FunctionArn), o.arch, o.memory, o.timeout, len(zipped))
	return nil
}

// updateFunction updates the function's code, then its configuration,
// waiting for each update to land.
func updateFunction(ctx context.Context, stdout io.Writer, client *lambda.Client, o deployOptions, zipped []byte, env *types.Environment) error {
	updated := lambda.NewFunctionUpdatedV2Waiter(client)
	get := &lambda.GetFunctionInput{FunctionName: &o.function}
	if _, err := client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: &o.function,
		ZipFile: zipped, Architectures: []types.Architecture{types.Architecture(o.arch)}}); err != nil {
		return fmt.Errorf("update the code of %s: %s", o.function, awsconf.Describe(err))
	}
	if err := updated.Wait(ctx, get, 5*time.Minute); err != nil {
		return fmt.Errorf("function %s: %w", o.function, err)
	}
	timeout := int32(o.timeout / time.Second)
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
