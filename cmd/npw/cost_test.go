package main

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var costRow = regexp.MustCompile(`(?m)^  cost +\$([\d.]+) as it would be on AWS \(us-east-1 list prices of 2026-10-02\): ` +
	`Lambda \$[\d.]+ \(([\d.]+) s × 3008 MB\), (\d+) invocations \$[\d.]+, S3 \$[\d.]+ \((\d+) PUT/LIST, (\d+) GET\), ` +
	`SQS \$[\d.]+ \((\d+) requests\), Redis \$[\d.]+ \(cache\.r7g\.large for ([\d.]+)(m?s)\)$`)

// A job on the local cloud (MinIO, fauxqs, Redis, process workers) ends
// its summary with its cost at us-east-1 list prices; the total is
// computed again here by hand from the usage the line prints, and S3's
// two price classes together are at most the store requests the summary
// counts (the rest are free DELETEs).
func TestCostLine(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	args := append([]string{"cholesky", "--n", "600", "--block", "100", "--quiet"}, cloudArgs(t)...)
	code, stdout, stderr := npw(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	m := costRow.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no cost line:\n%s", stdout)
	}
	f := func(i int) float64 {
		v, err := strconv.ParseFloat(m[i], 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	wall := f(7)
	if m[8] == "ms" {
		wall /= 1000
	}
	total, secs, invocations, puts, gets, sqs := f(1), f(2), f(3), f(4), f(5), f(6)
	byHand := secs*3008.0/1024*0.0000166667 + invocations*0.0000002 + puts*0.000005 + gets*0.0000004 + sqs*0.0000004 + wall/3600*0.219
	// The line rounds each figure it prints: seconds to 0.1 s, the wall
	// time to the millisecond, the total to three digits.
	if math.Abs(total-byHand) > 0.006*byHand+0.05*3008.0/1024*0.0000166667 {
		t.Errorf("total $%v, by hand from the printed usage $%v:\n%s", total, byHand, m[0])
	}
	req := regexp.MustCompile(`requests +per task: tile store [\d.]+, queue [\d.]+, state store [\d.]+ \((\d+), (\d+), \d+ in all\)`).FindStringSubmatch(stdout)
	if req == nil {
		t.Fatalf("no requests line:\n%s", stdout)
	}
	tiles, _ := strconv.ParseFloat(req[1], 64)
	queue, _ := strconv.ParseFloat(req[2], 64)
	if puts == 0 || gets == 0 || puts+gets > tiles || sqs != queue {
		t.Errorf("S3 %v PUT/LIST + %v GET of %v store requests; SQS %v of %v queue requests", puts, gets, tiles, sqs, queue)
	}
	if strings.Count(stdout, "\n  cost ") != 1 {
		t.Errorf("cost lines:\n%s", stdout)
	}
}
