package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/internal/localcloud"
	"github.com/npw-dev/npw/job"
	"github.com/npw-dev/npw/provisioner"
)

// policyCredentials has MinIO issue temporary credentials limited to
// the S3 statements of `npw deploy policy --for who` (AssumeRole with a
// session policy, which MinIO enforces as AWS does), and returns them as
// environment variables for the AWS SDK.
func policyCredentials(t *testing.T, store, who string) []string {
	t.Helper()
	code, out, stderr := npw(t, "deploy", "policy", "--store", store, "--queue", "sqs://", "--region", "us-east-1", "--account", "123456789012", "--for", who)
	if code != 0 {
		t.Fatalf("deploy policy: exit %d: %s", code, stderr)
	}
	var doc struct {
		Version   string
		Statement []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	var s3only []map[string]any
	for _, st := range doc.Statement {
		if strings.HasPrefix(st["Action"].([]any)[0].(string), "s3:") {
			s3only = append(s3only, st)
		}
	}
	policy, err := json.Marshal(map[string]any{"Version": doc.Version, "Statement": s3only})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(os.Getenv("AWS_ENDPOINT_URL_S3")) })
	role, err := c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/npw-" + who),
		RoleSessionName: aws.String("npw-test"), Policy: aws.String(string(policy))})
	if err != nil {
		t.Fatalf("MinIO AssumeRole with the %s policy: %v", who, err)
	}
	return []string{"AWS_ACCESS_KEY_ID=" + *role.Credentials.AccessKeyId,
		"AWS_SECRET_ACCESS_KEY=" + *role.Credentials.SecretAccessKey,
		"AWS_SESSION_TOKEN=" + *role.Credentials.SessionToken}
}

// setEnv puts KEY=VALUE pairs in the test's environment until it ends.
func setEnv(t *testing.T, env []string) {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// The S3 statements of the printed worker policy are enough for what a
// worker does to the store — open it (its startup check), read, write,
// list and delete the jobs' tiles, read the uploaded matrices — and MinIO
// denies the rest: writing a matrix, anything outside the prefix.
func TestWorkerPolicyOnMinIO(t *testing.T) {
	store, _, _ := localcloud.Get(t).Scoped(t)
	ctx := context.Background()
	root, err := blockstore.Open(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := root.Put(ctx, "matrices/A/0_0.npy", []byte("a matrix")); err != nil {
		t.Fatal(err)
	}
	outside := strings.Replace(store, "/t", "/other-t", 1)
	setEnv(t, policyCredentials(t, store, "worker"))
	s, err := blockstore.Open(ctx, store)
	if err != nil {
		t.Fatalf("a worker cannot open the store with the worker policy: %v", err)
	}
	defer s.Close()
	key := "jobs/0123456789ab/S/0_0.npy"
	if err := s.Put(ctx, key, []byte("tile")); err != nil {
		t.Errorf("put a job's tile: %v", err)
	}
	if b, err := s.Get(ctx, key); err != nil || !bytes.Equal(b, []byte("tile")) {
		t.Errorf("get a job's tile: %q, %v", b, err)
	}
	if keys, err := s.List(ctx, "jobs/0123456789ab/"); err != nil || len(keys) != 1 {
		t.Errorf("list a job's tiles: %v, %v", keys, err)
	}
	if _, err := s.Get(ctx, "jobs/0123456789ab/S/9_9.npy"); !errors.Is(err, blockstore.ErrNotFound) {
		t.Errorf("get a missing tile: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Errorf("delete a job's tile: %v", err)
	}
	if b, err := s.Get(ctx, "matrices/A/0_0.npy"); err != nil || string(b) != "a matrix" {
		t.Errorf("get a matrix's tile: %q, %v", b, err)
	}
	for what, err := range map[string]error{
		"put a matrix's tile":      s.Put(ctx, "matrices/A/0_1.npy", []byte("x")),
		"delete a matrix's tile":   s.Delete(ctx, "matrices/A/0_0.npy"),
		"put outside the prefixes": s.Put(ctx, "elsewhere/x", []byte("x")),
	} {
		if err == nil {
			t.Errorf("%s: allowed, want denied", what)
		}
	}
	if _, err := blockstore.Open(ctx, outside); err == nil || !strings.Contains(err.Error(), "access denied") {
		t.Errorf("open a store outside the policy's prefix: %v, want access denied", err)
	}
}

// The policy's region and account come from the flags or the AWS
// configuration, and are '*' only when asked for.
func TestPolicyRegionAndAccount(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_PROFILE", "")
	code, _, stderr := npw(t, "deploy", "policy", "--store", "s3://b/p")
	if code != exitUsage || !strings.Contains(stderr, "--region: the AWS configuration names no region; give --region REGION, or --region '*' for any") {
		t.Errorf("no region: exit %d, %q", code, stderr)
	}
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "y")
	t.Setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1")
	code, _, stderr = npw(t, "deploy", "policy", "--store", "s3://b/p")
	if code != 1 || !strings.Contains(stderr, "--account: could not find the account of the AWS credentials (STS GetCallerIdentity: ") {
		t.Errorf("no account: exit %d, %q", code, stderr)
	}
	code, out, stderr := npw(t, "deploy", "policy", "--store", "s3://b/p", "--account", "123456789012")
	if code != 0 || !strings.Contains(out, "arn:aws:sqs:eu-west-1:123456789012:") || strings.Contains(out, ":*:") {
		t.Errorf("region from AWS_REGION: exit %d, %s%s", code, out, stderr)
	}
	code, out, _ = npw(t, "deploy", "policy", "--store", "s3://b/p", "--region", "*", "--account", "*")
	if code != 0 || !strings.Contains(out, "arn:aws:sqs:*:*:") {
		t.Errorf("any region and account: exit %d, %s", code, out)
	}
}

// A whole job runs on the credentials of the printed policies: the client
// (upload, submit, results, cleanup) on the client policy's S3
// statements, its process workers on the worker policy's. The result is
// a clean run's, and nothing is left (checked with the root credentials).
func TestJobOnPolicyCredentials(t *testing.T) {
	root, urls := cloudEnv(t) // opened with the root credentials
	worker := policyCredentials(t, urls[0], "worker")
	setEnv(t, policyCredentials(t, urls[0], "client"))
	ctx := context.Background()
	tiles, err := blockstore.Open(ctx, urls[0])
	if err != nil {
		t.Fatalf("the client cannot open the store with the client policy: %v", err)
	}
	defer tiles.Close()
	env := job.Env{Tiles: tiles, QueueURL: root.QueueURL, State: root.State}
	spec := choleskySpec(t, randomSPD(rand.New(rand.NewPCG(64, 64)), 640), 128)
	res, err := job.Run(ctx, env, spec, job.Options{MaxWorkers: 2,
		Pool: func(r executor.Remote) (provisioner.Pool, error) {
			return &provisioner.Processes{Command: workerCommand(), Remote: r, Env: worker}, nil
		}})
	if err != nil {
		t.Fatalf("the job failed on the policies' credentials: %v", err)
	}
	mem := memEnv(t)
	ref, err := job.Run(ctx, mem, spec, job.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !same(output(t, env, res, "O"), output(t, mem, ref, "O")) {
		t.Fatal("the result differs from a clean run's")
	}
	var ran int
	for _, w := range res.Workers {
		ran += w.Tasks
	}
	if ran == 0 {
		t.Fatalf("no worker ran a task: %+v", res.Workers)
	}
	assertNothingLeft(t, root, urls)
}

// Workers that cannot open the store (a wrong secret key here) fail the
// job as stalled, and the failure says what the workers said, with the
// job's services redacted; nothing is left behind.
func TestWorkersDenied(t *testing.T) {
	env, urls := cloudEnv(t)
	spec := choleskySpec(t, randomSPD(rand.New(rand.NewPCG(65, 65)), 256), 128)
	start := time.Now()
	_, err := job.Run(context.Background(), env, spec, job.Options{MaxWorkers: 2,
		Pool: func(r executor.Remote) (provisioner.Pool, error) {
			return &provisioner.Processes{Command: workerCommand(), Remote: r, Env: []string{"AWS_SECRET_ACCESS_KEY=wrong"}}, nil
		}})
	want := "the last to fail said: worker p"
	if err == nil || !strings.Contains(err.Error(), "stalled: 0 of ") || !strings.Contains(err.Error(), want) ||
		!strings.Contains(err.Error(), ": access denied (check the AWS credentials") {
		t.Fatalf("got %v, want a stall that says the workers were denied", err)
	}
	if strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), "runtime limit") {
		t.Errorf("the message shows the secret or blames the runtime limit: %v", err)
	}
	t.Logf("failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
	assertNothingLeft(t, env, urls)
}
