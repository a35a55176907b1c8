// Package lambdaemu is a small local implementation of AWS Lambda, for
// tests: the parts of the Lambda API that npw uses (CreateFunction,
// GetFunction, UpdateFunctionCode, UpdateFunctionConfiguration, Invoke —
// synchronous and asynchronous), and the Runtime API through which a
// function's process (a "sandbox") takes invocations and returns results.
// A function's code is a zip with an executable `bootstrap`, run as the
// provided.al2023 runtime runs it; or, for tests, a command line.
//
// As in Lambda, a sandbox serves one invocation at a time and is reused
// while warm; asynchronous invocations wait in a queue until a sandbox is
// free or a new one (a cold start) can be started under the concurrency
// limit; an invocation that outlives the function's timeout has its
// sandbox killed. Everything listens on 127.0.0.1.
package lambdaemu

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// An Emulator serves the Lambda API on URL.
type Emulator struct {
	URL string
	// Env is added to every sandbox's environment, as a function's role
	// adds credentials in Lambda.
	Env []string
	// Concurrency caps the sandboxes of one function (default 64).
	Concurrency int

	srv  *http.Server
	dir  string
	mu   sync.Mutex
	fns  map[string]*function
	wg   sync.WaitGroup
	done chan struct{}
	seq  int
}

// A function is a deployed function and its sandboxes.
type function struct {
	cfg       Config
	codeDir   string   // the unpacked zip
	command   []string // the bootstrap (or a test's command line)
	queue     []*invocation
	sandboxes []*sandbox
	ended     []Invocation
}

// An Invocation is one that ended: its payload and what it returned
// (the function's response, or Lambda's error document if Failed).
type Invocation struct {
	Payload, Response []byte
	Failed            bool
}

// endLocked delivers an invocation's result and keeps it in the
// function's history.
func (fn *function) endLocked(inv *invocation, r result) {
	inv.result <- r
	fn.ended = append(fn.ended, Invocation{Payload: inv.payload, Response: r.body, Failed: r.failed})
}

// Ended returns the invocations of a function that have ended, in the
// order they ended (synchronous and asynchronous alike).
func (e *Emulator) Ended(name string) []Invocation {
	e.mu.Lock()
	defer e.mu.Unlock()
	if fn := e.fns[name]; fn != nil {
		return append([]Invocation(nil), fn.ended...)
	}
	return nil
}

// Config is a function's configuration, as the Lambda API shows it.
type Config struct {
	FunctionName     string
	FunctionArn      string
	Runtime          string
	Role             string
	Handler          string
	MemorySize       int32
	Timeout          int32 // seconds
	Architectures    []string
	Environment      *struct{ Variables map[string]string } `json:",omitempty"`
	State            string
	LastUpdateStatus string
	CodeSize         int64
	Version          string
}

type invocation struct {
	id       string
	payload  []byte
	sync     bool
	deadline time.Time
	result   chan result // buffered; read by synchronous invokers
}

type result struct {
	body   []byte
	failed bool
}

// A sandbox is one process of a function with its Runtime API endpoint.
type sandbox struct {
	fn      *function
	ln      net.Listener
	srv     *http.Server
	cmd     *exec.Cmd
	assign  chan *invocation // the next invocation for this sandbox
	current *invocation
	busy    bool
	dead    bool
	timer   *time.Timer
}

// Start serves the Lambda API on a free loopback port.
func Start() (*Emulator, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lambdaemu-")
	if err != nil {
		ln.Close()
		return nil, err
	}
	e := &Emulator{URL: "http://" + ln.Addr().String(), dir: dir, fns: map[string]*function{}, done: make(chan struct{}), Concurrency: 64}
	e.srv = &http.Server{Handler: http.HandlerFunc(e.serveAPI)}
	go e.srv.Serve(ln)
	return e, nil
}

// Close stops the API and kills every sandbox.
func (e *Emulator) Close() error {
	close(e.done)
	e.srv.Close()
	e.mu.Lock()
	for _, fn := range e.fns {
		for _, s := range fn.sandboxes {
			e.killLocked(s)
		}
	}
	e.mu.Unlock()
	e.wg.Wait()
	return os.RemoveAll(e.dir)
}

// AddFunction deploys a function whose sandboxes run command (a test
// binary, say) instead of a zip's bootstrap.
func (e *Emulator) AddFunction(cfg Config, command []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fill(&cfg)
	e.fns[cfg.FunctionName] = &function{cfg: cfg, command: command}
}

// Sandboxes counts a function's live sandboxes.
func (e *Emulator) Sandboxes(name string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if fn := e.fns[name]; fn != nil {
		return len(fn.sandboxes)
	}
	return 0
}

func (e *Emulator) fill(cfg *Config) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 3
	}
	if cfg.MemorySize == 0 {
		cfg.MemorySize = 128
	}
	cfg.FunctionArn = "arn:aws:lambda:us-east-1:000000000000:function:" + cfg.FunctionName
	cfg.State, cfg.LastUpdateStatus, cfg.Version = "Active", "Successful", "$LATEST"
}

// apiError writes an error the AWS SDK understands (restJson1).
func apiError(w http.ResponseWriter, status int, kind, msg string) {
	w.Header().Set("X-Amzn-Errortype", kind)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// serveAPI routes the Lambda API:
//
//	POST /2015-03-31/functions                          CreateFunction
//	GET  /2015-03-31/functions/{name}                   GetFunction
//	PUT  /2015-03-31/functions/{name}/code              UpdateFunctionCode
//	PUT  /2015-03-31/functions/{name}/configuration     UpdateFunctionConfiguration
//	POST /2015-03-31/functions/{name}/invocations       Invoke
func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/2015-03-31/functions")
	if !ok {
		apiError(w, http.StatusNotFound, "ResourceNotFoundException", "no such API: "+r.URL.Path)
		return
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	name := parts[0]
	if i := strings.LastIndex(name, ":function:"); i >= 0 { // an ARN
		name = name[i+len(":function:"):]
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		apiError(w, http.StatusBadRequest, "InvalidRequestContentException", err.Error())
		return
	}
	switch {
	case r.Method == http.MethodPost && name == "":
		e.createFunction(w, body)
	case r.Method == http.MethodGet && len(parts) == 1:
		e.getFunction(w, name)
	case r.Method == http.MethodPut && len(parts) == 2 && parts[1] == "code":
		e.updateCode(w, name, body)
	case r.Method == http.MethodPut && len(parts) == 2 && parts[1] == "configuration":
		e.updateConfig(w, name, body)
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "invocations":
		e.invoke(w, r, name, body)
	default:
		apiError(w, http.StatusNotFound, "ResourceNotFoundException", "no such API: "+r.Method+" "+r.URL.Path)
	}
}

type codeInput struct {
	ZipFile       string
	Architectures []string
}

func (e *Emulator) createFunction(w http.ResponseWriter, body []byte) {
	var in struct {
		Config
		Code codeInput
	}
	if err := json.Unmarshal(body, &in); err != nil {
		apiError(w, http.StatusBadRequest, "InvalidParameterValueException", err.Error())
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.fns[in.FunctionName]; ok {
		apiError(w, http.StatusConflict, "ResourceConflictException", "Function already exist: "+in.FunctionName)
		return
	}
	if in.Runtime != "provided.al2023" && in.Runtime != "provided.al2" {
		apiError(w, http.StatusBadRequest, "InvalidParameterValueException", "runtime "+in.Runtime+": this emulator runs provided.al2023 (a bootstrap) only")
		return
	}
	fn := &function{cfg: in.Config}
	if err := e.unpack(fn, in.Code.ZipFile); err != nil {
		apiError(w, http.StatusBadRequest, "InvalidParameterValueException", err.Error())
		return
	}
	e.fill(&fn.cfg)
	e.fns[in.FunctionName] = fn
	writeJSON(w, http.StatusCreated, fn.cfg)
}

// unpack writes a base64 zip to a directory of its own and finds its
// bootstrap.
func (e *Emulator) unpack(fn *function, b64 string) error {
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return fmt.Errorf("Code.ZipFile: %v", err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("Code.ZipFile is not a zip: %v", err)
	}
	e.seq++
	dir := filepath.Join(e.dir, fmt.Sprintf("%s-%d", fn.cfg.FunctionName, e.seq))
	for _, f := range zr.File {
		path := filepath.Join(dir, filepath.Clean("/"+f.Name))
		if f.FileInfo().IsDir() {
			os.MkdirAll(path, 0o755)
			continue
		}
		os.MkdirAll(filepath.Dir(path), 0o755)
		rc, err := f.Open()
		if err != nil {
			return err
		}
		content, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, content, f.Mode().Perm()|0o400); err != nil {
			return err
		}
	}
	boot := filepath.Join(dir, "bootstrap")
	st, err := os.Stat(boot)
	if err != nil || st.Mode().Perm()&0o111 == 0 {
		return errors.New("the zip has no executable bootstrap at its root")
	}
	fn.codeDir, fn.command = dir, []string{boot}
	fn.cfg.CodeSize = int64(len(data))
	return nil
}

func (e *Emulator) getFunction(w http.ResponseWriter, name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fn, ok := e.fns[name]
	if !ok {
		apiError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"Configuration": fn.cfg, "Code": map[string]string{"RepositoryType": "S3"}})
}

func (e *Emulator) updateCode(w http.ResponseWriter, name string, body []byte) {
	var in codeInput
	if err := json.Unmarshal(body, &in); err != nil {
		apiError(w, http.StatusBadRequest, "InvalidParameterValueException", err.Error())
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	fn, ok := e.fns[name]
	if !ok {
		apiError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
		return
	}
	if err := e.unpack(fn, in.ZipFile); err != nil {
		apiError(w, http.StatusBadRequest, "InvalidParameterValueException", err.Error())
		return
	}
	if len(in.Architectures) > 0 {
		fn.cfg.Architectures = in.Architectures
	}
	for _, s := range fn.sandboxes { // new code: no warm sandbox of the old
		if !s.busy {
			e.killLocked(s)
		}
	}
	writeJSON(w, http.StatusOK, fn.cfg)
}

func (e *Emulator) updateConfig(w http.ResponseWriter, name string, body []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fn, ok := e.fns[name]
	if !ok {
		apiError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
		return
	}
	cfg := fn.cfg
	if err := json.Unmarshal(body, &cfg); err != nil {
		apiError(w, http.StatusBadRequest, "InvalidParameterValueException", err.Error())
		return
	}
	cfg.FunctionName = fn.cfg.FunctionName
	e.fill(&cfg)
	fn.cfg = cfg
	writeJSON(w, http.StatusOK, fn.cfg)
}

// invoke queues an invocation: an Event is accepted at once (202); a
// RequestResponse waits for the result.
func (e *Emulator) invoke(w http.ResponseWriter, r *http.Request, name string, payload []byte) {
	kind := r.Header.Get("X-Amz-Invocation-Type")
	e.mu.Lock()
	fn, ok := e.fns[name]
	if !ok {
		e.mu.Unlock()
		apiError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
		return
	}
	if kind == "DryRun" {
		e.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	e.seq++
	inv := &invocation{id: fmt.Sprintf("req-%d", e.seq), payload: payload, sync: kind != "Event", result: make(chan result, 1)}
	fn.queue = append(fn.queue, inv)
	e.dispatchLocked(fn)
	e.mu.Unlock()
	if !inv.sync {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	select {
	case res := <-inv.result:
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		if res.failed {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(res.body)
	case <-e.done:
		apiError(w, http.StatusServiceUnavailable, "ServiceException", "the emulator stopped")
	}
}

// dispatchLocked gives queued invocations to idle sandboxes and starts
// sandboxes for the rest, under the concurrency limit.
func (e *Emulator) dispatchLocked(fn *function) {
	for len(fn.queue) > 0 {
		var idle *sandbox
		for _, s := range fn.sandboxes {
			if !s.busy && !s.dead {
				idle = s
				break
			}
		}
		if idle == nil {
			if len(fn.sandboxes) >= e.Concurrency {
				return // Event invocations wait, as Lambda's async queue does
			}
			s, err := e.startLocked(fn)
			if err != nil {
				inv := fn.queue[0]
				fn.queue = fn.queue[1:]
				inv.result <- result{body: []byte(fmt.Sprintf(`{"errorMessage":%q,"errorType":"Runtime.InitError"}`, err.Error())), failed: true}
				continue
			}
			idle = s
		}
		inv := fn.queue[0]
		fn.queue = fn.queue[1:]
		inv.deadline = time.Now().Add(time.Duration(fn.cfg.Timeout) * time.Second)
		idle.busy, idle.current = true, inv
		sb := idle
		idle.timer = time.AfterFunc(time.Until(inv.deadline), func() { e.timeout(sb, inv) })
		idle.assign <- inv
	}
}
