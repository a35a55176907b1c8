// Package analysis turns a checked LAmbdaPACK program into an implicit
// task DAG: it answers "which tasks read what this task wrote" and "which
// tasks wrote what this task reads" by solving index equations at run
// time, in microseconds and in memory independent of the matrix size,
// without ever building the graph.
//
// # Tasks
//
// A task (Node) is a kernel call statement plus the values of its
// enclosing loop variables, outermost first. Its key, "stmt:v0,v1,...",
// is canonical and short; it travels as a queue message and names state.
//
// # Plans
//
// NewPlan binds the program's scalar parameters and compiles every
// statement: each scalar expression is lowered to a small tree over loop
// "slots" (a loop variable's slot is its nesting depth), with parameters
// replaced by their values, scalar assignments inlined and constants
// folded; integer linear combinations of loop variables become a single
// affine node. Loop ranges, if conditions (with the truth value the
// statement needs) and index expressions become constraints, each tagged
// with the set of slots it depends on. A plan serialises to the program
// source and its arguments: a few hundred bytes, whatever the sizes.
//
// # Solving
//
// Children(n) evaluates the tiles n writes; for every statement access
// that reads the same matrix it finds the loop values with
// index(values) == tile. Parents(n) does the same from the tiles n reads
// to the accesses that write them, and treats two writers of one tile as
// the write-once violation it is.
//
// For one access and one target tile, the search assigns slots one at a
// time (see search in solve.go). It looks, outermost slot first, for an
// index equation in which only that slot is unknown and that can be
// inverted in it, and tries exactly the values the inversion allows:
//
//   - affine forms a*v + rest: one exact division;
//   - +, - and unary minus: shift or negate the target;
//   - * by a known integer: exact division;
//   - // by a known integer: an interval of values, walked inside the
//     loop's own range and step;
//   - known**v: an exact integer logarithm; v**odd: an exact integer root.
//
// Every constraint (loop range and step, if condition, index equation) is
// checked as soon as the slots it mentions are known, so impossible
// branches die early. A slot that no index mentions (j for the readers of
// O[i, i] in Cholesky) is free: it is enumerated over its range, and each
// value that passes the constraints is a genuine solution. A slot that an
// index mentions but no equation can solve (v % 3, min, a product of two
// unknowns) is also enumerated; that is a fallback, counted in Stats,
// because it costs time proportional to the range rather than to the
// answer. The shipped programs need none.
//
// When the equations fix every slot through affine forms in a known order
// (the common case: all of Cholesky's parent queries), that order is
// computed once per access and the search is replaced by straight-line
// divisions (solveDirect).
//
// Evaluation errors (division by zero, a float index) are reported only
// for instances that the rest of the constraints do not rule out, in the
// order a sequential run would meet them.
//
// # Truth
//
// BuildOracle runs the program sequentially with its own interpreter over
// the syntax tree and indexes every tile access: the explicit DAG the
// solver must reproduce. Tests compare the two on every shipped program,
// on synthetic programs covering every language feature and on thousands
// of random programs; npw check uses the oracle to find tiles written
// twice or read before they are written.
package analysis
