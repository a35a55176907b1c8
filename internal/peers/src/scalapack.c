/* The ScaLAPACK side of benchmarks/peers: one factorization or product of
 * a random n x n matrix over a 1 x P process grid (Open MPI ranks), in
 * nb x nb blocks, timed around the ScaLAPACK call alone. Prints one line:
 * "seconds S cpu C": the slowest rank's wall time, and the CPU time of all
 * ranks over the call.
 *
 *   mpicc scalapack.c -o scalapack -lscalapack-openmpi -lopenblas -lm
 *   OPENBLAS_NUM_THREADS=1 mpirun -np 2 ./scalapack potrf 8192 256
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern void Cblacs_pinfo(int *, int *);
extern void Cblacs_get(int, int, int *);
extern void Cblacs_gridinit(int *, const char *, int, int);
extern void Cblacs_gridinfo(int, int *, int *, int *, int *);
extern void Cblacs_gridexit(int);
extern int numroc_(const int *, const int *, const int *, const int *, const int *);
extern void descinit_(int *, const int *, const int *, const int *, const int *, const int *, const int *, const int *, const int *, int *);
extern void pdpotrf_(const char *, const int *, double *, const int *, const int *, const int *, int *);
extern void pdgetrf_(const int *, const int *, double *, const int *, const int *, const int *, int *, int *);
extern void pdgeqrf_(const int *, const int *, double *, const int *, const int *, const int *, double *, double *, const int *, int *);
extern void pdgemm_(const char *, const char *, const int *, const int *, const int *, const double *, const double *, const int *, const int *, const int *,
		    const double *, const int *, const int *, const int *, const double *, double *, const int *, const int *, const int *);

/* fill sets the local part of a block-cyclic n x n matrix: uniform in
 * [-1, 1) from the global index (the same matrix on any grid), plus n on
 * the diagonal when spd (symmetric: a(i,j) from min, max of i, j). */
static void fill(double *a, int n, int nb, int myrow, int mycol, int nprow, int npcol, int lld, int locc, int spd) {
	for (int jl = 0; jl < locc; jl++) {
		int j = (jl / nb * npcol + mycol) * nb + jl % nb;
		for (int il = 0; il < lld; il++) {
			int i = (il / nb * nprow + myrow) * nb + il % nb;
			if (i >= n) break;
			unsigned long long x = spd ? (unsigned long long)(i < j ? i : j) * 1000003ULL + (i < j ? j : i) : (unsigned long long)i * 1000003ULL + j;
			x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL; x ^= x >> 33;
			double v = (double)(x >> 11) / 9007199254740992.0 * 2 - 1;
			if (spd && i == j) v += n;
			a[il + (size_t)jl * lld] = v;
		}
	}
}

int main(int argc, char **argv) {
	MPI_Init(&argc, &argv);
	if (argc != 4) {
		fprintf(stderr, "usage: scalapack potrf|getrf|geqrf|gemm N NB\n");
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	const char *op = argv[1];
	int n = atoi(argv[2]), nb = atoi(argv[3]);
	int me, np, ctxt, nprow, npcol, myrow, mycol, zero = 0, one = 1, info;
	Cblacs_pinfo(&me, &np);
	Cblacs_get(-1, 0, &ctxt);
	Cblacs_gridinit(&ctxt, "Row", 1, np);
	Cblacs_gridinfo(ctxt, &nprow, &npcol, &myrow, &mycol);
	int locr = numroc_(&n, &nb, &myrow, &zero, &nprow), locc = numroc_(&n, &nb, &mycol, &zero, &npcol);
	int lld = locr > 1 ? locr : 1, desc[9];
	descinit_(desc, &n, &n, &nb, &nb, &zero, &zero, &ctxt, &lld, &info);
	size_t len = (size_t)lld * (locc > 1 ? locc : 1);
	double *a = malloc(len * sizeof(double)), *b = NULL, *c = NULL, *tau = NULL, *work = NULL;
	int *ipiv = NULL;
	fill(a, n, nb, myrow, mycol, nprow, npcol, lld, locc, strcmp(op, "potrf") == 0);
	if (strcmp(op, "gemm") == 0) {
		b = malloc(len * sizeof(double));
		c = calloc(len, sizeof(double));
		fill(b, n, nb, myrow, mycol, nprow, npcol, lld, locc, 0);
	} else if (strcmp(op, "getrf") == 0) {
		ipiv = malloc((locr + nb) * sizeof(int));
	} else if (strcmp(op, "geqrf") == 0) {
		tau = malloc((locc + nb) * sizeof(double));
		double wq;
		int lwork = -1;
		pdgeqrf_(&n, &n, a, &one, &one, desc, tau, &wq, &lwork, &info);
		lwork = (int)wq;
		work = malloc((size_t)lwork * sizeof(double));
	}
	MPI_Barrier(MPI_COMM_WORLD);
	double t0 = MPI_Wtime();
	clock_t c0 = clock();
	info = 0;
	if (strcmp(op, "potrf") == 0) {
		pdpotrf_("L", &n, a, &one, &one, desc, &info);
	} else if (strcmp(op, "getrf") == 0) {
		pdgetrf_(&n, &n, a, &one, &one, desc, ipiv, &info);
	} else if (strcmp(op, "geqrf") == 0) {
		int lwork = -1;
		double wq;
		pdgeqrf_(&n, &n, a, &one, &one, desc, tau, &wq, &lwork, &info);
		lwork = (int)wq;
		pdgeqrf_(&n, &n, a, &one, &one, desc, tau, work, &lwork, &info);
	} else if (strcmp(op, "gemm") == 0) {
		double alpha = 1, beta = 0;
		pdgemm_("N", "N", &n, &n, &n, &alpha, a, &one, &one, desc, b, &one, &one, desc, &beta, c, &one, &one, desc);
	} else {
		fprintf(stderr, "unknown op %s\n", op);
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	double t = MPI_Wtime() - t0, tmax, cpu = (double)(clock() - c0) / CLOCKS_PER_SEC, cpusum;
	MPI_Reduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
	MPI_Reduce(&cpu, &cpusum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
	if (info != 0) {
		fprintf(stderr, "%s: info %d\n", op, info);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	if (me == 0) printf("seconds %.4f cpu %.4f\n", tmax, cpusum);
	Cblacs_gridexit(ctxt);
	MPI_Finalize();
	return 0;
}
