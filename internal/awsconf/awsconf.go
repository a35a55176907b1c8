// Package awsconf builds the AWS SDK configuration the S3, SQS and Lambda
// drivers share, from a driver URL's query and the standard AWS chain.
//
// Query parameters: region (else AWS_REGION, the profile, or us-east-1),
// endpoint (else AWS_ENDPOINT_URL_<SERVICE> or AWS_ENDPOINT_URL, as the
// SDK reads them) and profile. Credentials come from the SDK's default
// chain: environment, shared files and profiles, web identity, container
// and instance roles. Requests that are throttled or fail with a 5xx are
// retried with capped exponential backoff and jitter; the SDK's client-side
// retry quota is off, so that many busy workers do not fail requests on
// their own.
package awsconf

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"
)

// Retries is the attempts of one request, the first included.
const Retries = 10

// Load returns the SDK configuration for a driver URL, and the endpoint
// the URL names ("" for the SDK's own choice).
func Load(ctx context.Context, u *url.URL) (aws.Config, string, error) {
	q := u.Query()
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = Retries
				o.MaxBackoff = 20 * time.Second
				o.RateLimiter = ratelimit.None
			})
		}),
		config.WithDefaultRegion("us-east-1"),
		// Workers keep several tile transfers in flight per host.
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConns = 256
			t.MaxIdleConnsPerHost = 64
		})),
	}
	if r := q.Get("region"); r != "" {
		opts = append(opts, config.WithRegion(r))
	}
	if p := q.Get("profile"); p != "" {
		opts = append(opts, config.WithSharedConfigProfile(p))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, "", fmt.Errorf("AWS configuration: %w", err)
	}
	endpoint := q.Get("endpoint")
	if endpoint != "" {
		if e, err := url.Parse(endpoint); err != nil || e.Scheme == "" || e.Host == "" {
			return aws.Config{}, "", fmt.Errorf("endpoint %q: want http(s)://host:port", endpoint)
		}
	}
	return cfg, endpoint, nil
}

// Describe turns an SDK error into one line: the service's error code and
// message when there is one, with a hint for credential problems.
func Describe(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		msg := api.ErrorCode()
		if m := api.ErrorMessage(); m != "" {
			msg += ": " + m
		}
		switch api.ErrorCode() {
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidClientTokenId", "UnrecognizedClientException",
			"AccessDenied", "Forbidden", "AccessDeniedException", "ExpiredToken":
			msg += " (check the AWS credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the role)"
		}
		return msg
	}
	return err.Error()
}
