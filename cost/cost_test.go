package cost

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestShipped(t *testing.T) {
	tab := Shipped()
	if tab.Taken == "" || !strings.Contains(tab.Source, "AWS Price List") {
		t.Errorf("taken %q, source %q", tab.Taken, tab.Source)
	}
	p, err := tab.Region("us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if p.LambdaGBSecond != 0.0000166667 || p.S3Put != 0.000005 || p.SQSRequest != 0.0000004 || p.RedisNodeHour != 0.219 {
		t.Errorf("us-east-1: %+v", p)
	}
	if _, err := tab.Region("eu-west-1"); err == nil || !strings.Contains(err.Error(), "no prices for the region eu-west-1 (the table of 2026-10-02 has us-east-1; give a table with --prices FILE)") {
		t.Errorf("eu-west-1: %v", err)
	}
}

// One job priced by hand: 1,000 worker-seconds of 3 GB functions on x86,
// 40 invocations, 12,000 PUTs and 50,000 GETs, 30,000 SQS requests, for
// 10 minutes on a cache.r7g.large.
//
//	Lambda   1000 × 3 × 0.0000166667 = 0.0500001
//	invokes  40 × 0.0000002          = 0.000008
//	S3       12000 × 0.000005 + 50000 × 0.0000004 = 0.06 + 0.02 = 0.08
//	SQS      30000 × 0.0000004       = 0.012
//	Redis    10/60 h × 0.219         = 0.0365
//	total                              0.1785081
func TestBillByHand(t *testing.T) {
	p, err := Shipped().Region("us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Bill(Usage{WorkerSeconds: 1000, MemoryGB: 3, Invocations: 40, S3Puts: 12000, S3Gets: 50000, SQSRequests: 30000, Wall: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"lambda", b.Lambda, 0.0500001}, {"invocations", b.Invocations, 0.000008}, {"s3", b.S3, 0.08},
		{"sqs", b.SQS, 0.012}, {"redis", b.Redis, 0.0365}, {"total", b.Total(), 0.1785081},
	} {
		if math.Abs(c.got-c.want) > 1e-12 {
			t.Errorf("%s: $%.9f, want $%.9f", c.name, c.got, c.want)
		}
	}
	if b.RedisNode != "cache.r7g.large" {
		t.Errorf("node %q", b.RedisNode)
	}
	arm, err := p.Bill(Usage{WorkerSeconds: 1000, MemoryGB: 3, Arm: true})
	if err != nil || math.Abs(arm.Lambda-0.0400002) > 1e-12 {
		t.Errorf("arm: %v %v", arm.Lambda, err)
	}
}

// A table of the user's replaces the shipped one; a bad one is refused
// with one line naming the file and the field.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		path := filepath.Join(dir, "p.json")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := `{"taken": "2026-12-01", "source": "my negotiated rates", "regions": {"eu-west-1": {"lambda_gb_second": 0.00001, "lambda_request": 1e-7, "s3_put": 4e-6, "s3_get": 3e-7, "sqs_request": 3e-7}}}`
	tab, err := Load(write(good))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := tab.Region("eu-west-1"); err != nil || p.S3Put != 4e-6 || p.RedisNode != "" {
		t.Errorf("%+v %v", p, err)
	}
	for _, c := range []struct{ body, want string }{
		{`{"taken": "December", "source": "x", "regions": {}}`, `taken "December" is not a date`},
		{`{"taken": "2026-12-01", "source": "", "regions": {}}`, `no source`},
		{`{"taken": "2026-12-01", "source": "x", "regions": {}}`, `no regions`},
		{strings.Replace(good, `"s3_put": 4e-6`, `"s3_put": -1`, 1), `region eu-west-1: s3_put is -1, want a price > 0`},
		{strings.Replace(good, `"s3_put": 4e-6, `, ``, 1), `region eu-west-1: s3_put is 0, want a price > 0`},
		{strings.Replace(good, `"sqs_request"`, `"sqs_requests"`, 1), `unknown field "sqs_requests"`},
		{strings.Replace(good, `"sqs_request": 3e-7`, `"sqs_request": 3e-7, "redis_node_hour": 0.2`, 1), `redis_node and redis_node_hour go together`},
		{good + good, `more than one JSON value`},
	} {
		_, err := Load(write(c.body))
		if err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, "p.json")+": ") || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want one line with %q", c.body, err, c.want)
		}
	}
}

// No table makes Parse panic, and an accepted one prices any usage as a
// finite sum of non-negative items.
func FuzzParsePrices(f *testing.F) {
	f.Add(shipped)
	f.Add([]byte(`{"taken": "2026-12-01", "source": "x", "regions": {"r": {"lambda_gb_second": 1e308, "lambda_request": 1, "s3_put": 1, "s3_get": 1, "sqs_request": 1}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := Parse(data, "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("error without the name: %v", err)
			}
			return
		}
		for _, r := range tab.RegionNames() {
			p, err := tab.Region(r)
			if err != nil {
				t.Fatal(err)
			}
			b, err := p.Bill(Usage{WorkerSeconds: 10, MemoryGB: 1, Invocations: 2, S3Puts: 3, S3Gets: 4, SQSRequests: 5, Wall: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []float64{b.Lambda, b.Invocations, b.S3, b.SQS, b.Redis} {
				if math.IsNaN(v) || v < 0 {
					t.Fatalf("region %s: bill %+v", r, b)
				}
			}
		}
	})
}
