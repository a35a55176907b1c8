package main

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/npw-dev/npw/cost"
	"github.com/npw-dev/npw/job"
)

// costFlags choose how a command's jobs are priced.
type costFlags struct {
	prices       string // a price table file; "" for the shipped one
	lambdaMemory int    // MB of the Lambda functions priced
	table        *cost.Table
}

// check loads the price table and checks the memory, before any work.
func (c *costFlags) check() error {
	if c.lambdaMemory < 128 || c.lambdaMemory > 10240 {
		return usagef("--lambda-memory %d: Lambda allows 128 to 10240 MB", c.lambdaMemory)
	}
	if c.prices == "" {
		return nil
	}
	t, err := cost.Load(c.prices)
	if err != nil {
		return fmt.Errorf("--prices: %w", err)
	}
	c.table = t
	return nil
}

// defaultCost prices as a job command does without --prices and
// --lambda-memory, for wait and provision.
var defaultCost = costFlags{lambdaMemory: 3008}

// region is the AWS region the jobs ran in, or would run in: the store
// URL's region, else $AWS_REGION or $AWS_DEFAULT_REGION, else us-east-1.
func region(storeURL string) string {
	if u, err := url.Parse(storeURL); err == nil {
		if r := u.Query().Get("region"); r != "" {
			return r
		}
	}
	for _, v := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if r := os.Getenv(v); r != "" {
			return r
		}
	}
	return "us-east-1"
}

// usage sums what the jobs used as AWS bills it: each worker an
// invocation of a function of memoryMB, for its billed lifetime (cold
// start included); the tile store's requests by S3's price classes; the
// queue's requests (each message of npw is far below SQS's 64 KB unit);
// the jobs' wall time for the Redis node.
func usage(results []*job.Result, memoryMB int) cost.Usage {
	u := cost.Usage{MemoryGB: float64(memoryMB) / 1024}
	for _, r := range results {
		u.Add(r.Usage(memoryMB))
	}
	return u
}

// costLine prices the jobs at the table's list prices for the region.
// Jobs whose workers ran elsewhere than on Lambda, or on services other
// than S3, SQS and Redis, are priced as the same run would be there.
func (c costFlags) costLine(results []*job.Result, storeURL, launch string) summaryLine {
	table := c.table
	if table == nil {
		table = cost.Shipped()
	}
	reg := region(storeURL)
	p, err := table.Region(reg)
	if err != nil {
		return summaryLine{"cost", err.Error()}
	}
	u := usage(results, c.lambdaMemory)
	b, err := p.Bill(u)
	if err != nil {
		return summaryLine{"cost", err.Error()}
	}
	as := "on AWS"
	if launch != "lambda" || !strings.HasPrefix(storeURL, "s3://") {
		as = "as it would be on AWS"
	}
	redis := ""
	if b.RedisNode != "" {
		redis = fmt.Sprintf(", Redis $%s (%s for %v)", dollars(b.Redis), b.RedisNode, u.Wall.Round(time.Millisecond))
	}
	return summaryLine{"cost", fmt.Sprintf("$%s %s (%s list prices of %s): Lambda $%s (%.1f s × %d MB), %d invocations $%s, S3 $%s (%d PUT/LIST, %d GET), SQS $%s (%d requests)%s",
		dollars(b.Total()), as, reg, table.Taken, dollars(b.Lambda), u.WorkerSeconds, c.lambdaMemory, u.Invocations, dollars(b.Invocations),
		dollars(b.S3), u.S3Puts, u.S3Gets, dollars(b.SQS), u.SQSRequests, redis)}
}

// dollars writes an amount in cents from a dollar up, below that with
// three significant digits: 0.00109, 0.0000008.
func dollars(x float64) string {
	if x >= 1 {
		return fmt.Sprintf("%.2f", x)
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 3, 64), 64)
	return strconv.FormatFloat(r, 'f', -1, 64)
}
