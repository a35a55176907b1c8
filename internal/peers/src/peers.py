"""The Python side of npw's peers (internal/peers: npw bench --reference
and benchmarks/peers): one operation on a random n x n matrix with
NumPy/SciPy (OpenBLAS's own LAPACK) or Dask array, timed around the call
alone. Prints one line: "seconds S cpu C", the wall time and
the process's CPU time (all threads) over the call.

    python3 peers.py numpy|dask cholesky|gemm|qr|lu|svd N [CHUNK [THREADS]]
"""
import sys
import time

import numpy as np


def matrix(n, spd, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, (n, n))
    if spd:
        a = (a + a.T) / 2 + n * np.eye(n)
    return a


def run_numpy(op, n):
    import scipy.linalg as sl
    a = matrix(n, op == "cholesky", 1)
    b = matrix(n, False, 2) if op == "gemm" else None
    t0, c0 = time.perf_counter(), time.process_time()
    if op == "cholesky":
        sl.cholesky(a, lower=True, overwrite_a=True, check_finite=False)
    elif op == "gemm":
        a @ b
    elif op == "qr":
        sl.qr(a, mode="r", overwrite_a=True, check_finite=False)
    elif op == "lu":
        sl.lu_factor(a, overwrite_a=True, check_finite=False)
    elif op == "svd":
        sl.svd(a, compute_uv=False, overwrite_a=True, check_finite=False)
    else:
        raise SystemExit("unknown op " + op)
    return time.perf_counter() - t0, time.process_time() - c0


def run_dask(op, n, chunk, threads):
    import dask
    import dask.array as da
    dask.config.set(scheduler="threads", num_workers=threads)
    a = da.from_array(matrix(n, op == "cholesky", 1), chunks=chunk).persist()
    b = da.from_array(matrix(n, False, 2), chunks=chunk).persist() if op == "gemm" else None
    t0, c0 = time.perf_counter(), time.process_time()
    if op == "cholesky":
        da.linalg.cholesky(a, lower=True).persist()
    elif op == "gemm":
        (a @ b).persist()
    elif op == "lu":
        dask.persist(*da.linalg.lu(a))
    else:
        raise SystemExit("dask array has no " + op + " of a square matrix")
    return time.perf_counter() - t0, time.process_time() - c0


def main():
    lib, op, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if lib == "numpy":
        secs, cpu = run_numpy(op, n)
    elif lib == "dask":
        secs, cpu = run_dask(op, n, int(sys.argv[4]) if len(sys.argv) > 4 else 1024,
                             int(sys.argv[5]) if len(sys.argv) > 5 else 2)
    else:
        raise SystemExit("unknown library " + lib)
    print("seconds %.4f cpu %.4f" % (secs, cpu))


if __name__ == "__main__":
    main()
