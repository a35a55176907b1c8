package npw

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/job"
)

// Detached is the error of an Engine call whose job a detaching engine
// (Options.Detach) submitted and left to a provisioner process: the job
// runs on without this process; `npw status`, `npw wait` and `npw
// cancel` (job.Inspect, job.Wait, job.Cancel) follow it by its ID.
type Detached struct {
	Record *job.Record
	// Log is the provisioner process's log file, PID its process id; for
	// Lambda workers the provisioner is a chain of invocations of the
	// Lambda function Function instead (ProvisionInLambda), which log to
	// the function's logs.
	Log      string
	PID      int
	Function string
}

func (d *Detached) Error() string {
	if d.Function != "" {
		return fmt.Sprintf("job %s was submitted and left to its provisioner, invocations of the Lambda function %s", d.Record.ID, d.Function)
	}
	return fmt.Sprintf("job %s was submitted and left to a provisioner process (pid %d, log %s)", d.Record.ID, d.PID, d.Log)
}

// submit submits a job for a provisioner process and starts one. The
// inputs that are the engine's own (uploads, generated matrices) go to
// the job, which deletes them when it ends: the caller must not release
// them.
func (e *Engine) submit(ctx context.Context, plan *analysis.Plan, block int, inputs []job.Input, outputs []string) error {
	if err := e.use(plan.Program().Name); err != nil {
		return err
	}
	inputs, done, err := e.cutInputs(ctx, plan, block, inputs)
	if err != nil {
		done()
		return err
	}
	spec := job.Spec{Plan: plan, Block: block, Inputs: inputs, Outputs: outputs, Targets: map[string]string{}}
	for _, name := range slices.Sorted(maps.Keys(e.opts.Targets)) {
		if slices.Contains(outputs, name) {
			spec.Targets[name] = e.opts.Targets[name]
		}
	}
	spec.Owned = owned(inputs) // the tiles cut for it too: the job deletes them
	opts := e.jobOptions()
	opts.Detach = true
	sub, err := job.Submit(ctx, e.env(), spec, opts)
	if err != nil {
		return err
	}
	sub.Release()
	d := &Detached{Record: sub.Record}
	if e.opts.Launch == "lambda" && len(e.opts.ProvisionCommand) == 0 {
		d.Function = e.opts.Function
		err = InvokeProvisioner(ctx, LambdaProvision{Job: sub.Record.ID, State: e.opts.State, Function: e.opts.Function})
	} else {
		d.PID, d.Log, err = e.startProvisioner(sub.Record.ID)
	}
	if err != nil {
		cerr := job.Cancel(context.WithoutCancel(ctx), e.state, sub.Record.ID, false)
		return fmt.Errorf("job %s: starting its provisioner: %w (the job is cancelled%s)", sub.Record.ID, err, errText(cerr))
	}
	return d
}

// owned returns the key prefixes of the inputs that are the engine's own
// (uploads, generated matrices), which a job's finisher deletes when no
// client does: its client left it (Detach) or died.
func owned(inputs []job.Input) []string {
	var out []string
	for _, in := range inputs {
		if in.Tiles != nil && in.Store == nil && in.Scratch {
			out = append(out, in.Tiles.Dir())
		}
	}
	return out
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return "; cancelling it failed: " + err.Error()
}

// startProvisioner starts `npw provision --job ID` as a process of its
// own session, which outlives this one, logging to a file beside the
// system's temporary files.
func (e *Engine) startProvisioner(id string) (pid int, log string, err error) {
	command := e.opts.ProvisionCommand
	if len(command) == 0 {
		command = []string{e.opts.WorkerCommand[0], "provision"}
	}
	log = filepath.Join(os.TempDir(), "npw-provision-"+id+".log")
	f, err := os.Create(log)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	// The state store's URL, which may hold a password, goes in the
	// environment, where ps does not show it.
	cmd := exec.Command(command[0], append(slices.Clone(command[1:]), "--job", id)...)
	cmd.Env = append(os.Environ(), "NPW_STATE="+e.opts.State)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, "", err
	}
	pid = cmd.Process.Pid
	return pid, log, cmd.Process.Release()
}
