package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	engine "github.com/npw-dev/npw"
	"github.com/npw-dev/npw/job"
	"github.com/npw-dev/npw/state"
)

// Chromium is Debian's, which the test command installs (scripts/test).
const chromium = "/usr/bin/chromium"

// TestDashboardInChromium runs a Cholesky with emulated compute on the
// memory services while the dashboard samples its state store, and opens
// the page in headless Chromium: the job's id appears, its count of tasks
// done rises between two readings, and its chart is drawn (a screenshot
// of it has the chart's colours). The JSON and chart endpoints answer as
// the page expects; an unknown job's chart is a 404.
func TestDashboardInChromium(t *testing.T) {
	if _, err := exec.LookPath(chromium); err != nil {
		t.Fatalf("no %s: the test command (scripts/test) installs Debian's chromium package", chromium)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const services = "mem://dashboard-test"
	st, err := state.Open(ctx, services)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := &Server{State: st, Interval: 200 * time.Millisecond, Cost: func(job.Snapshot) string { return "$0.01" }, Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	sampleCtx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		srv.Run(sampleCtx)
	}()
	defer func() { stopSampling(); <-sampled }()
	web := httptest.NewServer(srv.Handler()) // on 127.0.0.1
	defer web.Close()

	// The job: 816 tasks of up to 84 ms (a syrk of 128 at 0.05 GFLOP/s)
	// on 8 workers, about 7 s.
	ids := make(chan string, 1)
	jobDone := make(chan error, 1)
	go func() {
		opts := engine.Options{Store: services, Queue: services, State: services, Workers: 8,
			OnSubmit: func(r *job.Record) {
				if strings.HasPrefix(r.Program, "cholesky") {
					ids <- r.ID
				}
			}}
		opts.EmulateGFLOPS = 0.05
		eng, err := engine.Open(ctx, opts)
		if err != nil {
			jobDone <- err
			return
		}
		defer eng.Close()
		a, err := eng.Generate(ctx, "A", engine.SPD, 2048, 2048, 128, 1)
		if err != nil {
			jobDone <- err
			return
		}
		_, err = eng.Cholesky(ctx, a)
		jobDone <- err
	}()
	var id string
	select {
	case id = <-ids:
	case err := <-jobDone:
		t.Fatalf("the job ended before it was submitted: %v", err)
	}

	// The sampler sees the job before the browser looks.
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var jobs []Job
		getJSON(t, web.URL+"/api/jobs", &jobs)
		if len(jobs) > 0 && jobs[0].ID == id {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("/api/jobs does not list job %s: %+v", id, jobs)
		}
	}
	dir := t.TempDir()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.UserDataDir(dir), chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.WindowSize(1200, 900))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	sel := `section[data-job="` + id + `"]`
	if err := chromedp.Do(browser, chromedp.Navigate(web.URL)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(browser, chromedp.WaitVisible(sel+" h2")); err != nil {
		t.Fatal(err)
	}
	text := func(s string) string {
		t.Helper()
		v, err := chromedp.Run(browser, chromedp.Text(s))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	title, done1 := text(sel+" h2"), text(sel+" .done")
	time.Sleep(1500 * time.Millisecond)
	done2 := text(sel + " .done")
	if !regexp.MustCompile(`^` + id + `: cholesky`).MatchString(title) {
		t.Errorf("job title %q", title)
	}
	if n1, n2 := doneOf(t, done1), doneOf(t, done2); !(n2 > n1) {
		t.Errorf("tasks done went from %q to %q", done1, done2)
	}
	if _, err := chromedp.Run(browser, chromedp.Poll[bool](`document.querySelector('`+sel+` img.chart').naturalWidth > 0`)); err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(browser, chromedp.Screenshot(sel+" img.chart"))
	if err != nil {
		t.Fatal(err)
	}
	if path := os.Getenv("NPW_DASHBOARD_SHOT"); path != "" { // to look at it
		full, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, full, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if n := coloured(t, shot); n < 500 {
		t.Errorf("the chart's screenshot has %d coloured pixels", n)
	}

	// The endpoints behind the page.
	var jobs []Job
	getJSON(t, web.URL+"/api/jobs", &jobs)
	if len(jobs) == 0 || jobs[0].ID != id || len(jobs[0].Kernels) != 3 || len(jobs[0].Samples) == 0 {
		t.Errorf("/api/jobs: %+v", jobs)
	}
	if r, err := http.Get(web.URL + "/jobs/nosuchjob/chart.png"); err != nil || r.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown job's chart: %v %v", r, err)
	}
	if err := <-jobDone; err != nil {
		t.Fatal(err)
	}
}

var doneRE = regexp.MustCompile(`^(\d+) of \d+`)

func doneOf(t *testing.T, s string) int {
	m := doneRE.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("tasks done %q", s)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// coloured counts the pixels of a PNG that are neither white, grey nor
// black: the chart's lines.
func coloured(t *testing.T, data []byte) int {
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if max(r, g, bl)-min(r, g, bl) > 0x4000 {
				n++
			}
		}
	}
	return n
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("%s: %v: %s", url, err, body)
	}
}
