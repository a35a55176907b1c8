package npw

import "math"

// AutoBlock suggests the tile size for running algorithm alg ("cholesky",
// "lu", "qr", "solve", "svd", "tsqr" or "gemm") on a rows×cols matrix
// with at most workers workers; remote says the services are shared ones
// (S3 or files, SQS, Redis) rather than this process's memory. It is what
// --block auto picks.
//
// Tiles must be large enough for the kernels to run near the DGEMM peak
// and for a task's fixed cost to vanish next to its computation (at
// least 256 in memory, 1024 on shared services), and small enough that
// the DAG keeps every worker busy: a factorisation of t×t tiles has about
// t²/6 tasks ready at once (t ≥ √(12·workers), at least 8; 12 for
// Cholesky, whose last panels run nearly alone), a product
// needs two tiles of C per worker (t ≥ √(2·workers), at least 2), and on
// shared services, where a factorisation's store traffic grows as n³/b,
// a factorisation takes half that parallelism (t ≥ √(6·workers), at
// least 4); QR in memory takes at least 16 tiles a side. The lower bound
// wins. Tiles stay at most 4096 (128 MiB) and
// are rounded up to a multiple of 64; a smaller matrix is one tile.
func AutoBlock(alg string, rows, cols, workers int, remote bool) int {
	n := max(rows, cols, 1)
	workers = max(workers, 1)
	var tiles int
	switch alg {
	case "gemm":
		tiles = max(2, int(math.Ceil(math.Sqrt(2*float64(workers)))))
	case "qr":
		// Blocked QR factors each panel, a tall tile, on one worker while
		// the others update: narrower panels shorten that critical path.
		// Measured in memory on 2 workers: at n = 8192, 10.9 s with
		// b = 384, 11.3 s with 512, 12.4 s with 1024; at n = 4096, 1.8 s
		// with b = 256..512 and 2.4 s with 1024.
		tiles = max(16, int(math.Ceil(math.Sqrt(12*float64(workers)))))
		if remote {
			tiles = max(4, int(math.Ceil(math.Sqrt(6*float64(workers)))))
		}
	case "tsqr":
		// Row blocks of a tall matrix: a tree over them.
		tiles = max(8, 2*workers)
		n = rows
	default:
		least := 8
		if alg == "cholesky" {
			// Twelve tiles a side in memory: the last panels run nearly
			// alone, and finer tiles shorten them more than the kernels
			// lose. Measured on 2 workers (npw bench, job time): at
			// n = 8192, 2.46 s with b = 704 (12 tiles), 2.48 s with 512,
			// 2.58 s with 1024 (8); at n = 16384, 17.40-17.58 s with
			// 1408 against 18.92-19.14 s with 2048.
			least = 12
		}
		if remote {
			tiles = max(4, int(math.Ceil(math.Sqrt(6*float64(workers)))))
		} else {
			tiles = max(least, int(math.Ceil(math.Sqrt(12*float64(workers)))))
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
