package lambdaemu

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// startLocked starts a sandbox of fn: a Runtime API endpoint of its own
// and the function's process, which polls it for invocations.
func (e *Emulator) startLocked(fn *function) (*sandbox, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sandbox{fn: fn, ln: ln, assign: make(chan *invocation, 1)}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.serveRuntime(s, w, r) })}
	go s.srv.Serve(ln)
	cmd := exec.Command(fn.command[0], fn.command[1:]...)
	cmd.Dir = fn.codeDir
	env := append(os.Environ(), e.Env...)
	env = append(env,
		"AWS_LAMBDA_RUNTIME_API="+ln.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME="+fn.cfg.FunctionName,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(int(fn.cfg.MemorySize)),
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/"+fn.cfg.FunctionName,
		"LAMBDA_TASK_ROOT="+fn.codeDir,
		"_HANDLER="+fn.cfg.Handler,
	)
	if fn.cfg.Environment != nil {
		for k, v := range fn.cfg.Environment.Variables {
			env = append(env, k+"="+v)
		}
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr // the function's logs
	if err := cmd.Start(); err != nil {
		s.srv.Close()
		return nil, err
	}
	s.cmd = cmd
	fn.sandboxes = append(fn.sandboxes, s)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		cmd.Wait()
		e.mu.Lock()
		defer e.mu.Unlock()
		e.exitedLocked(s, "the function's process exited")
	}()
	return s, nil
}

// serveRuntime is the Runtime API of one sandbox:
//
//	GET  /2018-06-01/runtime/invocation/next
//	POST /2018-06-01/runtime/invocation/{id}/response
//	POST /2018-06-01/runtime/invocation/{id}/error
//	POST /2018-06-01/runtime/init/error
func (e *Emulator) serveRuntime(s *sandbox, w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/2018-06-01/runtime/")
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.Method == http.MethodGet && path == "invocation/next":
		e.finish(s, nil, false) // asking for the next one completes nothing new; frees the sandbox
		select {
		case inv := <-s.assign:
			h := w.Header()
			h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
			h.Set("Lambda-Runtime-Invoked-Function-Arn", s.fn.cfg.FunctionArn)
			h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
			w.Write(inv.payload)
		case <-e.done:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	case r.Method == http.MethodPost && strings.HasPrefix(path, "invocation/"):
		rest := strings.TrimPrefix(path, "invocation/")
		id, what, _ := strings.Cut(rest, "/")
		e.mu.Lock()
		cur := s.current
		e.mu.Unlock()
		if cur == nil || cur.id != id {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"errorMessage":"no such invocation in flight","errorType":"InvalidRequestID"}`))
			return
		}
		e.finish(s, body, what == "error")
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodPost && path == "init/error":
		w.WriteHeader(http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// finish records the result of the sandbox's current invocation, if any,
// and makes the sandbox available.
func (e *Emulator) finish(s *sandbox, body []byte, failed bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s.current != nil && body != nil {
		s.fn.endLocked(s.current, result{body: body, failed: failed})
		s.current = nil
		if s.timer != nil {
			s.timer.Stop()
		}
	}
	if s.current == nil && s.busy {
		s.busy = false
	}
	if !s.busy && !s.dead {
		e.dispatchLocked(s.fn)
	}
}

// timeout kills a sandbox whose invocation outlived the function's
// timeout, as Lambda does.
func (e *Emulator) timeout(s *sandbox, inv *invocation) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s.current != inv {
		return
	}
	s.fn.endLocked(inv, result{body: []byte(`{"errorMessage":"Task timed out","errorType":"Sandbox.Timedout"}`), failed: true})
	s.current = nil
	e.killLocked(s)
}

func (e *Emulator) killLocked(s *sandbox) {
	if s.dead {
		return
	}
	s.dead = true
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
	}
	go s.srv.Close()
}

// exitedLocked forgets a sandbox whose process ended, failing what it ran.
func (e *Emulator) exitedLocked(s *sandbox, why string) {
	if s.current != nil {
		s.fn.endLocked(s.current, result{body: []byte(`{"errorMessage":"` + why + `","errorType":"Runtime.ExitError"}`), failed: true})
		s.current = nil
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	e.killLocked(s)
	fn := s.fn
	for i, x := range fn.sandboxes {
		if x == s {
			fn.sandboxes = append(fn.sandboxes[:i], fn.sandboxes[i+1:]...)
			break
		}
	}
	select {
	case <-e.done:
	default:
		e.dispatchLocked(fn)
	}
}
