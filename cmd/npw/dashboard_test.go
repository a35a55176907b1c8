package main

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDashboardFlag runs a Cholesky with emulated compute and
// --dashboard as a process of its own: it says where its page is, on
// loopback; the page, its jobs' JSON (the job, with tasks done rising)
// and the job's chart answer while it runs; and the command ends well.
// (internal/dashboard's test opens the page in Chromium.)
func TestDashboardFlag(t *testing.T) {
	cmd, m := startNPW(t, []string{"cholesky", "--n", "2048", "--block", "128", "--workers", "8", "--emulate-compute", "0.05", "--dashboard", "--quiet"},
		regexp.MustCompile(`dashboard at (http://127\.0\.0\.1:\d+/)`))
	url := m[1]
	if page := get(t, url); !strings.Contains(page, "<title>npw jobs</title>") {
		t.Errorf("the page:\n%s", page)
	}
	type jobJSON struct {
		ID      string `json:"id"`
		Program string `json:"program"`
		Done    int64  `json:"done"`
	}
	var first, later jobJSON
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		var jobs []jobJSON
		if err := json.Unmarshal([]byte(get(t, url+"api/jobs")), &jobs); err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if strings.HasPrefix(j.Program, "cholesky") {
				if first.ID == "" && j.Done > 0 {
					first = j
				} else if j.ID == first.ID && j.Done > first.Done {
					later = j
				}
			}
		}
		if later.ID != "" {
			break
		}
	}
	if later.ID == "" {
		t.Fatalf("the dashboard never showed the Cholesky's tasks done rising (first %+v)", first)
	}
	if png := get(t, url+"jobs/"+later.ID+"/chart.png"); !strings.HasPrefix(png, "\x89PNG") {
		t.Errorf("the chart is not a PNG: %q", png[:min(len(png), 20)])
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("npw cholesky --dashboard: %v", err)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, r.StatusCode, err)
	}
	return string(b)
}
