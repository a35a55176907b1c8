package npw

import "math"

// AutoBlock suggests the tile size for running algorithm alg ("cholesky",
// "lu", "qr", "solve", "svd", "tsqr" or "gemm") on a rows×cols matrix
// with at most workers workers; remote says the services are shared ones
// (S3 or files, SQS, Redis) rather than this process's memory. It is what
// --block auto picks.
//
// Two forces set it. Tiles must be large for the kernels to run near the
// DGEMM peak and for the per-task cost (a lease, reads, writes and state
// updates) to vanish next to the computation: never below 256 in memory,
// where a task costs about a millisecond besides its kernel, and never
// below 1024 on shared services, where it costs tens of milliseconds (a
// 512² tile product takes 7 ms on one core at 37 GFLOP/s, a 1024² one
// 58 ms). They must be small enough that the DAG
// keeps every worker busy: a factorisation of t×t tiles has about t²/6
// tasks ready at once on average, so t ≥ √(12·workers) and at least 8
// (lookahead needs a few columns ahead of the panel); a product needs
// two tiles of C per worker, t ≥ √(2·workers) and at least 2 (its chains
// update one running sum in place, so a larger tile costs nothing but
// its memory). On shared services a third force joins: every tile a task
// reads or writes goes through the store (its CPU, its bandwidth), and a
// factorisation moves bytes in proportion to n³/b, so there a
// factorisation takes half the tiles' parallelism, t ≥ √(6·workers) and
// at least 4.
// Tiles stay at most 4096 (128 MiB, so a Lambda worker with a few in
// flight fits in its memory). The lower bound wins over parallelism. The
// result is rounded up to a multiple of 64; a matrix smaller than that is
// one tile. Measured on the 2-core machine of benchmarks/README.md, it
// picks the best block of its sweeps: 1024 for Cholesky at n = 8192 in
// memory, 2048 on the local cloud (2.4 GB of tile reads at 1024, 1.3 GB
// at 2048); for GEMM 2048 at n = 4096 (91–100% of the DGEMM peak in
// memory, against 75% at 1024; on the local cloud ratio 1.51–1.85
// against 2.20–2.43) and 4096 at n = 8192 (90–95% in memory, a tie with
// 2048's 88–99%; 1.30–1.82 on the local cloud, a tie with 2048's
// 1.63–1.78).
func AutoBlock(alg string, rows, cols, workers int, remote bool) int {
	n := max(rows, cols, 1)
	workers = max(workers, 1)
	var tiles int
	switch alg {
	case "gemm":
		tiles = max(2, int(math.Ceil(math.Sqrt(2*float64(workers)))))
	case "tsqr":
		// Row blocks of a tall matrix: a tree over them.
		tiles = max(8, 2*workers)
		n = rows
	default:
		if remote {
			tiles = max(4, int(math.Ceil(math.Sqrt(6*float64(workers)))))
		} else {
			tiles = max(8, int(math.Ceil(math.Sqrt(12*float64(workers)))))
		}
	}
	b := (n + tiles - 1) / tiles
	b = (b + 63) / 64 * 64
	least := 256
	if remote {
		least = 1024
	}
	b = min(max(b, least), 4096)
	return min(b, n)
}
