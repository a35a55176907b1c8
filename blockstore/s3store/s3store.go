// Package s3store is the S3 driver of the tile store, registered for
// s3:// URLs:
//
//	s3://bucket/prefix[?region=...&endpoint=http://host:port&profile=...]
//
// Keys live under prefix/ in the bucket. Credentials, region and endpoint
// come from the URL and the AWS SDK's standard chain (internal/awsconf);
// a custom endpoint (MinIO, other S3-compatible stores) is addressed
// path-style. Opening checks the bucket with HeadBucket, so a bad
// endpoint, bucket or credentials fail at once with one clear error.
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/internal/awsconf"
)

func init() { blockstore.Register("s3", Open) }

// The capabilities of the driver (see blockstore.Driver).
var (
	_ blockstore.Copier         = (*Driver)(nil)
	_ blockstore.FreshReader    = (*Driver)(nil)
	_ blockstore.RequestCounter = (*Driver)(nil)
)

// A Driver stores objects in one S3 bucket under a prefix.
type Driver struct {
	client   *s3.Client
	bucket   string
	prefix   string // "" or ending in "/"
	requests atomic.Int64
	puts     atomic.Int64 // PUT, COPY and LIST requests
	gets     atomic.Int64 // GET and HEAD requests
}

// Requests counts the requests made to S3 (retries not included).
func (d *Driver) Requests() int64 { return d.requests.Load() }

// PutRequests counts, of Requests, the PUT, COPY and LIST requests, which
// S3 bills at the higher rate.
func (d *Driver) PutRequests() int64 { return d.puts.Load() }

// GetRequests counts, of Requests, the GET and HEAD requests (ranged
// reads included), which S3 bills at the lower rate. What is in neither
// count is deleting, which is free.
func (d *Driver) GetRequests() int64 { return d.gets.Load() }

// Open opens the bucket of an s3:// URL and checks that it can be reached.
func Open(ctx context.Context, u *url.URL) (blockstore.Driver, error) {
	bucket := u.Host
	if bucket == "" {
		return nil, fmt.Errorf("no bucket: want s3://bucket/prefix")
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	cfg, endpoint, err := awsconf.Load(ctx, u)
	if err != nil {
		return nil, err
	}
	pathStyle := u.Query().Get("path_style")
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = pathStyle == "true" || (o.BaseEndpoint != nil && pathStyle != "false")
		// Checksums only where S3 requires them: S3-compatible stores
		// differ in the checksums they know.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	d := &Driver{client: client, bucket: bucket, prefix: prefix}
	if err := d.check(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// check asks for one key of the jobs' tiles, with a short deadline and
// few retries: a list under the store's jobs/ prefix, which the policy
// of npw deploy policy grants (s3:ListBucket with an s3:prefix
// condition), where HeadBucket needs s3:ListBucket on the whole bucket.
func (d *Driver) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	_, err := d.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &d.bucket, Prefix: aws.String(d.prefix + "jobs/"), MaxKeys: aws.Int32(1)},
		func(o *s3.Options) { o.RetryMaxAttempts = 2 })
	if err == nil {
		return nil
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NotFound", "NoSuchBucket":
			return fmt.Errorf("bucket %s does not exist", d.bucket)
		case "Forbidden", "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidToken", "ExpiredToken":
			return fmt.Errorf("bucket %s: access denied (check the AWS credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the role)", d.bucket)
		}
		return fmt.Errorf("bucket %s: %s", d.bucket, awsconf.Describe(err))
	}
	return fmt.Errorf("cannot reach S3 for bucket %s: %w", d.bucket, err)
}

func (d *Driver) key(k string) *string { return aws.String(d.prefix + k) }

// FreshReads implements blockstore.FreshReader: every Get reads the
// object into a new buffer.
func (d *Driver) FreshReads() bool { return true }

// Get implements blockstore.Driver.
func (d *Driver) Get(ctx context.Context, key string) ([]byte, error) {
	d.requests.Add(1)
	d.gets.Add(1)
	out, err := d.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &d.bucket, Key: d.key(key)})
	if err != nil {
		var missing *types.NoSuchKey
		if errors.As(err, &missing) {
			return nil, blockstore.ErrNotFound
		}
		return nil, errors.New(awsconf.Describe(err))
	}
	defer out.Body.Close()
	// With the length known, read into a buffer of exactly that size:
	// bytes.Buffer.ReadFrom would grow a full buffer once more (to twice
	// the tile) just to find the end.
	if n := aws.ToInt64(out.ContentLength); n >= 0 && out.ContentLength != nil {
		data := make([]byte, n)
		if _, err := io.ReadFull(out.Body, data); err != nil {
			return nil, fmt.Errorf("reading the object: %w", err)
		}
		if extra, _ := out.Body.Read(make([]byte, 1)); extra > 0 {
			return nil, fmt.Errorf("reading the object: longer than its Content-Length %d", n)
		}
		return data, nil
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, out.Body); err != nil {
		return nil, fmt.Errorf("reading the object: %w", err)
	}
	return buf.Bytes(), nil
}

// ReadRange implements blockstore.RangeReader with a ranged GET.
func (d *Driver) ReadRange(ctx context.Context, key string, off int64, p []byte) error {
	if len(p) == 0 {
		return d.head(ctx, key)
	}
	d.requests.Add(1)
	d.gets.Add(1)
	rng := fmt.Sprintf("bytes=%d-%d", off, off+int64(len(p))-1)
	out, err := d.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &d.bucket, Key: d.key(key), Range: &rng})
	if err != nil {
		var missing *types.NoSuchKey
		var apiErr smithy.APIError
		switch {
		case errors.As(err, &missing):
			return blockstore.ErrNotFound
		case errors.As(err, &apiErr) && apiErr.ErrorCode() == "InvalidRange":
			return io.ErrUnexpectedEOF // off is at or past the end
		}
		return errors.New(awsconf.Describe(err))
	}
	defer out.Body.Close()
	// A range past the end comes back shorter (RFC 9110), not as an error.
	if _, err := io.ReadFull(out.Body, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("reading the object: %w", err)
	}
	return nil
}

// Put implements blockstore.Driver. The body is a bytes.Reader: the SDK
// needs a seekable body to retry. The payload is not part of the
// signature (UNSIGNED-PAYLOAD), as the SDK already does over HTTPS: over
// plain HTTP (a local MinIO) it would otherwise hash every tile with
// SHA-256 on both ends, which costs more CPU than moving the bytes.
func (d *Driver) Put(ctx context.Context, key string, data []byte) error {
	d.requests.Add(1)
	d.puts.Add(1)
	_, err := d.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &d.bucket, Key: d.key(key),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))},
		s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
	if err != nil {
		return errors.New(awsconf.Describe(err))
	}
	return nil
}

// Copy implements blockstore.Copier: CopyObject, server-side, so tile
// data does not travel through the client.
func (d *Driver) Copy(ctx context.Context, dst, src string) error {
	if dst == src {
		return d.head(ctx, src) // S3 refuses to copy an object onto itself
	}
	d.requests.Add(1)
	d.puts.Add(1)
	source := url.PathEscape(d.bucket) + "/" + escapeKey(d.prefix+src)
	_, err := d.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &d.bucket, Key: d.key(dst), CopySource: &source})
	if err != nil {
		var missing *types.NoSuchKey
		var apiErr smithy.APIError
		if errors.As(err, &missing) || errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchKey" {
			return blockstore.ErrNotFound
		}
		return errors.New(awsconf.Describe(err))
	}
	return nil
}

// head checks that key holds an object.
func (d *Driver) head(ctx context.Context, key string) error {
	d.requests.Add(1)
	d.gets.Add(1)
	_, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &d.bucket, Key: d.key(key)})
	if err != nil {
		var missing *types.NotFound
		if errors.As(err, &missing) {
			return blockstore.ErrNotFound
		}
		return errors.New(awsconf.Describe(err))
	}
	return nil
}

// escapeKey URL-escapes each segment of a key, keeping the slashes.
func escapeKey(k string) string {
	parts := strings.Split(k, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// Delete implements blockstore.Driver, 1000 keys per request.
func (d *Driver) Delete(ctx context.Context, keys []string) error {
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		objs := make([]types.ObjectIdentifier, n)
		for i, k := range keys[:n] {
			objs[i] = types.ObjectIdentifier{Key: d.key(k)}
		}
		d.requests.Add(1)
		out, err := d.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &d.bucket,
			Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)}})
		if err != nil {
			return errors.New(awsconf.Describe(err))
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("delete %s: %s: %s (and %d more)", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message), len(out.Errors)-1)
		}
		keys = keys[n:]
	}
	return nil
}

// List implements blockstore.Driver. S3 lists keys in UTF-8 byte order,
// which is the order the interface asks for.
func (d *Driver) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(d.client, &s3.ListObjectsV2Input{Bucket: &d.bucket, Prefix: d.key(prefix)})
	for p.HasMorePages() {
		d.requests.Add(1)
		d.puts.Add(1)
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, errors.New(awsconf.Describe(err))
		}
		for _, o := range page.Contents {
			keys = append(keys, strings.TrimPrefix(aws.ToString(o.Key), d.prefix))
		}
	}
	return keys, nil
}

// Close implements blockstore.Driver.
func (d *Driver) Close() error { return nil }
