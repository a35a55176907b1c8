// Package cost prices a job on AWS: Lambda GB-seconds and invocations,
// S3 requests by price class, SQS requests and the Redis node's hours for
// the job's duration, from a table of list prices per region that
// carries the date and the source its prices were taken from. The table
// shipped with npw (prices.json) can be replaced by a file of the same
// form.
package cost

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"
)

// Prices are one region's list prices, in dollars.
type Prices struct {
	LambdaGBSecond    float64 `json:"lambda_gb_second"`     // x86 duration, per GB-second
	LambdaGBSecondArm float64 `json:"lambda_gb_second_arm"` // Arm duration, per GB-second; 0: not known
	LambdaRequest     float64 `json:"lambda_request"`       // per invocation
	S3Put             float64 `json:"s3_put"`               // per PUT, COPY, POST or LIST request
	S3Get             float64 `json:"s3_get"`               // per GET, HEAD or other request; DELETE is free
	SQSRequest        float64 `json:"sqs_request"`          // per request of up to 64 KB
	RedisNode         string  `json:"redis_node"`           // the node type the state store runs on
	RedisNodeHour     float64 `json:"redis_node_hour"`      // per node-hour
}

// A Table is the prices of several regions, taken on one date from one
// source.
type Table struct {
	Taken   string            `json:"taken"` // YYYY-MM-DD
	Source  string            `json:"source"`
	Regions map[string]Prices `json:"regions"`
}

//go:embed prices.json
var shipped []byte

// Shipped returns the table npw ships with.
func Shipped() *Table {
	t, err := Parse(shipped, "prices.json")
	if err != nil {
		panic(err) // a broken build; TestShipped catches it
	}
	return t
}

// Load reads a table from a file of prices.json's form.
func Load(path string) (*Table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

// Parse reads a table, naming name in its errors. Every price is a
// finite number ≥ 0, lambda_gb_second, lambda_request, the S3 and SQS
// prices are given (> 0), and taken is a date.
func Parse(data []byte, name string) (*Table, error) {
	var t Table
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: more than one JSON value", name)
	}
	if _, err := time.Parse(time.DateOnly, t.Taken); err != nil {
		return nil, fmt.Errorf("%s: taken %q is not a date (YYYY-MM-DD): the table says when its prices were taken", name, t.Taken)
	}
	if strings.TrimSpace(t.Source) == "" {
		return nil, fmt.Errorf("%s: no source: the table says where its prices come from", name)
	}
	if len(t.Regions) == 0 {
		return nil, fmt.Errorf("%s: no regions", name)
	}
	for _, r := range t.RegionNames() {
		p := t.Regions[r]
		for _, f := range []struct {
			name     string
			v        float64
			required bool
		}{
			{"lambda_gb_second", p.LambdaGBSecond, true}, {"lambda_gb_second_arm", p.LambdaGBSecondArm, false},
			{"lambda_request", p.LambdaRequest, true}, {"s3_put", p.S3Put, true}, {"s3_get", p.S3Get, true},
			{"sqs_request", p.SQSRequest, true}, {"redis_node_hour", p.RedisNodeHour, false},
		} {
			if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 || f.required && f.v == 0 {
				return nil, fmt.Errorf("%s: region %s: %s is %v, want a price > 0", name, r, f.name, f.v)
			}
		}
		if (p.RedisNode == "") != (p.RedisNodeHour == 0) {
			return nil, fmt.Errorf("%s: region %s: redis_node and redis_node_hour go together", name, r)
		}
	}
	return &t, nil
}

// RegionNames returns the table's regions, sorted.
func (t *Table) RegionNames() []string {
	names := make([]string, 0, len(t.Regions))
	for r := range t.Regions {
		names = append(names, r)
	}
	slices.Sort(names)
	return names
}

// ErrNoRegion is the error of a region the table has no prices for.
var ErrNoRegion = errors.New("no prices for the region")

// Region returns a region's prices.
func (t *Table) Region(region string) (Prices, error) {
	p, ok := t.Regions[region]
	if !ok {
		return Prices{}, fmt.Errorf("%w %s (the table of %s has %s; give a table with --prices FILE)", ErrNoRegion, region, t.Taken, strings.Join(t.RegionNames(), ", "))
	}
	return p, nil
}

// Usage is what a job used, as AWS bills it.
type Usage struct {
	WorkerSeconds float64 // Lambda duration, summed over invocations
	MemoryGB      float64 // each function's memory (MB / 1024)
	// FunctionMemoryMB is the memory the workers' Lambda function has,
	// as they reported it; 0 when they ran elsewhere. Pricing takes it
	// over an assumed MemoryGB.
	FunctionMemoryMB int
	Arm              bool // the function runs on Arm (Graviton)
	Invocations      int64
	S3Puts           int64 // PUT, COPY, POST and LIST requests
	S3Gets           int64 // GET, HEAD and other requests (DELETEs are free)
	SQSRequests      int64 // in 64 KB units
	Wall             time.Duration
}

// Add adds u2's counts and durations to u (memory and architecture are
// u's).
func (u *Usage) Add(u2 Usage) {
	u.WorkerSeconds += u2.WorkerSeconds
	u.Invocations += u2.Invocations
	u.S3Puts += u2.S3Puts
	u.S3Gets += u2.S3Gets
	u.SQSRequests += u2.SQSRequests
	u.Wall += u2.Wall
	u.FunctionMemoryMB = max(u.FunctionMemoryMB, u2.FunctionMemoryMB)
}

// A Bill is a job's cost in dollars, by item.
type Bill struct {
	Lambda, Invocations, S3, SQS, Redis float64
	RedisNode                           string // "" when the table prices no node
}

// Total is the sum of the items.
func (b Bill) Total() float64 { return b.Lambda + b.Invocations + b.S3 + b.SQS + b.Redis }

// Bill prices u. Lambda bills duration per millisecond, each invocation
// rounded up on its own; WorkerSeconds is a sum, so the rounding is left
// out (under a millisecond per invocation). The Redis node is billed for
// the job's wall time only: the share of an always-on node the job used.
func (p Prices) Bill(u Usage) (Bill, error) {
	gbs := p.LambdaGBSecond
	if u.Arm {
		if p.LambdaGBSecondArm == 0 {
			return Bill{}, errors.New("the table has no Arm Lambda price for the region")
		}
		gbs = p.LambdaGBSecondArm
	}
	return Bill{
		Lambda:      u.WorkerSeconds * u.MemoryGB * gbs,
		Invocations: float64(u.Invocations) * p.LambdaRequest,
		S3:          float64(u.S3Puts)*p.S3Put + float64(u.S3Gets)*p.S3Get,
		SQS:         float64(u.SQSRequests) * p.SQSRequest,
		Redis:       u.Wall.Hours() * p.RedisNodeHour,
		RedisNode:   p.RedisNode,
	}, nil
}
