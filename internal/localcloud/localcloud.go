// Package localcloud gives tests the real services npw runs on —
// redis-server, MinIO and fauxqs on 127.0.0.1 — through
// scripts/local-cloud. A test binary uses the services named by
// NPW_CLOUD_DIR (a running `scripts/local-cloud up`, as scripts/test
// starts one) or starts its own and stops it when the tests end. A test
// that needs a service and cannot get one fails; it never skips.
package localcloud

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Cloud is a running local cloud.
type Cloud struct {
	Dir   string
	Store string // s3://... URL of the bucket
	Queue string // sqs://... URL
	State string // redis://... URL
	Env   map[string]string
}

var (
	once    sync.Once
	cloud   *Cloud
	upErr   error
	started bool // this process started it and stops it in Main
)

// Main runs a package's tests and then stops a local cloud the process
// started. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if started {
		cmd := exec.Command(script(), "down", cloud.Dir)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "localcloud: down: %v\n", err)
		}
	}
	os.Exit(code)
}

// Get returns the local cloud, starting one on first use, and sets its
// AWS credentials and endpoints in the process environment for the AWS
// SDK's default chain. NPW_STORE, NPW_QUEUE and NPW_STATE stay unset, so
// commands under test still default to the memory services.
func Get(t testing.TB) *Cloud {
	t.Helper()
	once.Do(func() { cloud, upErr = up() })
	if upErr != nil {
		t.Fatalf("local cloud: %v", upErr)
	}
	return cloud
}

func up() (*Cloud, error) {
	if dir := os.Getenv("NPW_CLOUD_DIR"); dir != "" {
		data, err := os.ReadFile(filepath.Join(dir, "env"))
		if err != nil {
			return nil, fmt.Errorf("NPW_CLOUD_DIR=%s names no running local cloud: %w", dir, err)
		}
		return parse(data)
	}
	dir, err := os.MkdirTemp("", "npw-cloud-")
	if err != nil {
		return nil, err
	}
	os.Remove(dir) // the script makes it
	var out, errb bytes.Buffer
	cmd := exec.Command(script(), "up", dir)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		exec.Command(script(), "down", dir).Run()
		return nil, fmt.Errorf("scripts/local-cloud up: %v\n%s", err, errb.String())
	}
	started = true
	return parse(out.Bytes())
}

// Scoped returns the cloud's URLs with a prefix of their own — a key
// prefix in the bucket, a queue-name prefix and a Redis key prefix — so
// that tests sharing one cloud never see each other's objects.
func (c *Cloud) Scoped(t testing.TB) (store, queue, state string) {
	t.Helper()
	tag := fmt.Sprintf("t%08x", rand.Uint32())
	su, err := url.Parse(c.Store)
	if err != nil {
		t.Fatal(err)
	}
	su.Path = "/" + tag
	qu, err := url.Parse(c.Queue)
	if err != nil {
		t.Fatal(err)
	}
	qu.Host = tag
	sep := "?"
	if strings.Contains(c.State, "?") {
		sep = "&"
	}
	return su.String(), qu.String(), c.State + sep + "prefix=" + tag
}

// parse reads the export lines of scripts/local-cloud up.
func parse(data []byte) (*Cloud, error) {
	c := &Cloud{Env: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "export ")
		if !ok {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, "'")
		c.Env[k] = v
		if strings.HasPrefix(k, "AWS_") { // for the SDK's default chain; NPW_* stay unset
			os.Setenv(k, v)
		}
	}
	c.Dir, c.Store, c.Queue, c.State = c.Env["NPW_CLOUD_DIR"], c.Env["NPW_STORE"], c.Env["NPW_QUEUE"], c.Env["NPW_STATE"]
	if c.Store == "" || c.Queue == "" || c.State == "" {
		return nil, fmt.Errorf("scripts/local-cloud printed no NPW_STORE, NPW_QUEUE and NPW_STATE:\n%s", data)
	}
	return c, nil
}

// script finds scripts/local-cloud from the module root.
func script() string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "scripts", "local-cloud")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "scripts/local-cloud"
		}
		dir = parent
	}
}

// Tools is the directory where scripts/local-cloud installs MinIO and
// fauxqs ($NPW_TOOLS, by default ~/.cache/npw-tools), for a test that
// starts servers of its own beside the shared cloud; Get installs them.
func Tools() string {
	if dir := os.Getenv("NPW_TOOLS"); dir != "" {
		return dir
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "npw-tools")
}
