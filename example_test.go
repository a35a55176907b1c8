package npw_test

import (
	"context"
	"fmt"
	"log"

	"gonum.org/v1/gonum/mat"

	"github.com/npw-dev/npw"
)

// Factor a small symmetric positive definite matrix, in 2×2 tiles, with
// goroutine workers and in-memory services, and check A = L Lᵀ.
func Example() {
	ctx := context.Background()
	eng, err := npw.Open(ctx, npw.Options{Workers: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()
	a := mat.NewDense(4, 4, []float64{
		4, 2, 0, 2,
		2, 5, 1, 3,
		0, 1, 6, 1,
		2, 3, 1, 7,
	})
	A, err := eng.Upload(ctx, "A", a, 2)
	if err != nil {
		log.Fatal(err)
	}
	L, err := eng.Cholesky(ctx, A)
	if err != nil {
		log.Fatal(err)
	}
	l, err := L.Dense(ctx)
	if err != nil {
		log.Fatal(err)
	}
	var llt mat.Dense
	llt.Mul(l, l.T())
	fmt.Printf("L[0,0] = %.0f, L[1,0] = %.0f\n", l.At(0, 0), l.At(1, 0))
	fmt.Println("A = L Lᵀ:", mat.EqualApprox(a, &llt, 1e-12))
	fmt.Println("tasks:", L.Job.Status.Tasks)
	// Output:
	// L[0,0] = 2, L[1,0] = 1
	// A = L Lᵀ: true
	// tasks: 4
}
