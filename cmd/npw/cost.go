package main

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	engine "github.com/npw-dev/npw"
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
	e, err := c.estimate(results, storeURL, launch)
	if err != nil {
		return summaryLine{"cost", err.Error()}
	}
	return summaryLine{"cost", e.line()}
}

// line is the estimate as the summary's cost line says it.
func (e costEstimate) line() string {
	as := "on AWS"
	if e.AsOnAWS {
		as = "as it would be on AWS"
	}
	redis := ""
	if e.RedisNode != "" {
		redis = fmt.Sprintf(", Redis $%s (%s for %v)", dollars(e.Redis), e.RedisNode, e.usage.Wall.Round(time.Millisecond))
	}
	u := e.usage
	ofFunction := ""
	if e.LambdaMemoryFrom == "function" {
		ofFunction = " of the function"
	}
	return fmt.Sprintf("$%s %s (%s list prices of %s): Lambda $%s (%.1f s × %d MB%s), %d invocations $%s, S3 $%s (%d PUT/LIST, %d GET), SQS $%s (%d requests)%s",
		dollars(e.Total), as, e.Region, e.PricesTaken, dollars(e.Lambda), u.WorkerSeconds, e.LambdaMemory, ofFunction, u.Invocations, dollars(e.Invocations),
		dollars(e.S3), u.S3Puts, u.S3Gets, dollars(e.SQS), u.SQSRequests, redis)
}

// A costEstimate is the jobs' bill, as the summary line and npw status
// --json give it: dollars by item at a region's dated list prices, and
// the usage they price.
type costEstimate struct {
	Total       float64 `json:"usd"`
	Region      string  `json:"region"`
	PricesTaken string  `json:"prices_taken"`
	// AsOnAWS: the workers or services were not Lambda, S3 and SQS, and
	// this is what the same run would cost there.
	AsOnAWS      bool    `json:"as_on_aws"`
	Lambda       float64 `json:"lambda_usd"`
	Invocations  float64 `json:"invocations_usd"`
	S3           float64 `json:"s3_usd"`
	SQS          float64 `json:"sqs_usd"`
	Redis        float64 `json:"redis_usd"`
	RedisNode    string  `json:"redis_node,omitempty"`
	LambdaMemory int     `json:"lambda_memory_mb"`
	// LambdaMemoryFrom says where LambdaMemory comes from: "function",
	// the configuration of the function the workers ran in, as they
	// reported it; "assumed", --lambda-memory's (workers elsewhere).
	LambdaMemoryFrom string  `json:"lambda_memory_from"`
	WorkerSeconds    float64 `json:"worker_seconds"`
	// SoFar: the job is running, and this is what it has cost up to its
	// members' last heartbeats.
	SoFar bool `json:"so_far,omitempty"`
	usage cost.Usage
}

// estimate prices the jobs at the table's list prices for the region of
// their store. Jobs whose workers ran elsewhere than on Lambda, or on
// services other than S3, SQS and Redis, are priced as the same run would
// be there.
func (c costFlags) estimate(results []*job.Result, storeURL, launch string) (costEstimate, error) {
	return c.price(usage(results, c.lambdaMemory), storeURL, launch)
}

// price is estimate for a usage.
func (c costFlags) price(u cost.Usage, storeURL, launch string) (costEstimate, error) {
	table := c.table
	if table == nil {
		table = cost.Shipped()
	}
	reg := region(storeURL)
	p, err := table.Region(reg)
	if err != nil {
		return costEstimate{}, err
	}
	memory, memoryFrom := c.lambdaMemory, "assumed"
	if u.FunctionMemoryMB > 0 {
		memory, memoryFrom = u.FunctionMemoryMB, "function"
	}
	u.MemoryGB = float64(memory) / 1024
	b, err := p.Bill(u)
	if err != nil {
		return costEstimate{}, err
	}
	return costEstimate{Total: b.Total(), Region: reg, PricesTaken: table.Taken, AsOnAWS: launch != "lambda" || !strings.HasPrefix(storeURL, "s3://"),
		Lambda: b.Lambda, Invocations: b.Invocations, S3: b.S3, SQS: b.SQS, Redis: b.Redis, RedisNode: b.RedisNode,
		LambdaMemory: memory, LambdaMemoryFrom: memoryFrom, WorkerSeconds: u.WorkerSeconds, usage: u}, nil
}

// jobCost prices a job as a snapshot sees it: its bill once it has
// ended, what it has cost so far while it runs (from the usage its
// workers and provisioner leave with their heartbeats). The line says
// which; the estimate is nil when the job cannot be priced (ending, or
// no price for the region: the line says why).
func (c costFlags) jobCost(snap engine.JobSnapshot) (*costEstimate, string) {
	r := snap.Record
	var e costEstimate
	var err error
	switch {
	case r.End != nil:
		e, err = c.estimate([]*job.Result{engine.EndedResult(r)}, r.Store, r.Launch.Kind)
	case snap.Usage != nil:
		e, err = c.price(*snap.Usage, r.Store, r.Launch.Kind)
		e.SoFar = true
	default:
		return nil, ""
	}
	if err != nil {
		return nil, err.Error()
	}
	if e.SoFar {
		return &e, "so far " + e.line()
	}
	return &e, e.line()
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
