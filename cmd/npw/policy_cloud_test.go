package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/internal/localcloud"
)

// policyCredentials has MinIO issue temporary credentials limited to
// the S3 statements of `npw deploy policy --for who` (AssumeRole with a
// session policy, which MinIO enforces as AWS does), and puts them in
// the environment of the test.
func policyCredentials(t *testing.T, store, who string) {
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
	t.Setenv("AWS_ACCESS_KEY_ID", *role.Credentials.AccessKeyId)
	t.Setenv("AWS_SECRET_ACCESS_KEY", *role.Credentials.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", *role.Credentials.SessionToken)
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
	policyCredentials(t, store, "worker")
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
