package job

import (
	"fmt"
	"net/url"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/internal/machine"
)

// A sizing is what a job needs, estimated before anything is uploaded or
// enumerated: its tasks, the bytes it leaves in the store (its inputs,
// and its outputs counted as tiles as large as the inputs' tiles; scratch
// tiles come and go on top), and each worker's memory.
type sizing struct {
	size      analysis.Size
	store     float64 // bytes of the inputs and outputs
	perWorker float64
	workers   int // goroutine workers in this process; 0 when they run elsewhere
}

// checkSize refuses a job that has more tasks than opts.MaxTasks, or
// that needs more memory or disk than this machine has where the job's
// store or workers are on it: a mem:// store and goroutine workers in
// this process's memory, a file:// store on its disk.
func checkSize(spec Spec, s *blockstore.Store, opts Options) error {
	size, err := spec.Plan.CheckSize(opts.MaxTasks)
	if err != nil {
		return err
	}
	z := sizing{size: size, perWorker: float64(workerBytes(opts, spec.Block))}
	if opts.Pool == nil {
		z.workers = opts.MaxWorkers
	}
	prog := spec.Plan.Program()
	var rows, cols int // the largest input dimensions
	for _, in := range spec.Inputs {
		r, c := in.Rows, in.Cols
		if in.Tiles == nil {
			r, c = in.Array.Rows, in.Array.Cols
		}
		rows, cols = max(rows, r), max(cols, c)
		if in.Tiles == nil || in.elsewhere(s) {
			z.store += 8 * float64(r) * float64(c)
		}
	}
	// An output tile is counted as large as an input tile can be: a full
	// block, or less when every input is thinner than one (a tall-skinny
	// QR's tiles are B×n, not B×B). Kernels that stack factors write
	// tiles up to twice a block, hence "about".
	tile := 8 * float64(spec.Block) * float64(spec.Block)
	if len(spec.Inputs) > 0 {
		tile = 8 * float64(min(spec.Block, max(rows, 1))) * float64(min(spec.Block, max(cols, 1)))
	}
	for _, name := range spec.Outputs {
		if sh, ok := spec.Shapes[name]; ok {
			z.store += 8 * float64(sh[0]) * float64(sh[1])
		} else if prog.Matrix(name) != nil { // an unknown name is refused with the spec
			z.store += size.Writes[spec.Plan.MatrixIndex(name)] * tile
		}
	}
	return z.check(spec.Plan, s.URL())
}

// workerBytes is what one worker holds: its memory bound, or the
// default bound of a remote worker (executor.Settings.Memory).
func workerBytes(opts Options, block int) int64 {
	if opts.Memory > 0 {
		return opts.Memory
	}
	return int64(opts.Pipeline*3+2) * 8 * int64(block) * int64(block)
}

func (z sizing) check(p *analysis.Plan, storeURL string) error {
	name := p.Program().Name + " " + analysis.ArgString(p.Args())
	u, _ := url.Parse(storeURL)
	scheme := ""
	if u != nil {
		scheme = u.Scheme
	}
	need := float64(z.workers) * z.perWorker
	what := ""
	if z.workers > 0 {
		what = fmt.Sprintf("%s per worker (%d workers in this process)", machine.FormatBytes(z.perWorker), z.workers)
	}
	if scheme == "mem" {
		need += z.store
		what = fmt.Sprintf("about %s in the store (%s keeps it in this process's memory)", machine.FormatBytes(z.store), storeURL) + and(what)
	}
	if mem := machine.Memory(); mem > 0 && need > float64(mem) {
		return fmt.Errorf("%s needs %s; this machine has %s of memory", name, what, machine.FormatBytes(float64(mem)))
	}
	if scheme == "file" && u.Path != "" {
		if free, ok := machine.FreeSpace(u.Path); ok && z.store > float64(free) {
			return fmt.Errorf("%s needs about %s in the store; %s has %s free", name, machine.FormatBytes(z.store), storeURL, machine.FormatBytes(float64(free)))
		}
	}
	return nil
}

func and(s string) string {
	if s == "" {
		return ""
	}
	return " and " + s
}
