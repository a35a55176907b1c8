package lambdapack

import (
	"os"
	"testing"
)

// FuzzParse feeds arbitrary text to the front end: it must never panic,
// every error must carry a position, and every program it accepts must
// print to a text that parses back to the same tree.
//
//	go test -fuzz=FuzzParse ./lambdapack
func FuzzParse(f *testing.F) {
	for _, name := range Shipped() {
		src, _ := ShippedSource(name)
		f.Add(src)
	}
	if src, err := os.ReadFile("testdata/errors.lp"); err == nil {
		for _, c := range chunks(string(src)) {
			f.Add(c)
		}
	}
	f.Add("def f(A: BigMatrix, N: int):\n    for i in range(N - 1, -1, -2):\n        if i % 2 == 0 and not i == 4:\n            A[i] = scale(A[i + 1], 2.5 ** -i)\n")
	f.Fuzz(func(t *testing.T, src string) {
		file, err := Parse("fuzz.lp", src)
		if err != nil {
			checkPositioned(t, err)
			return
		}
		printed := Format(file)
		again, err := Parse("fuzz.lp", printed)
		if err != nil {
			t.Fatalf("printed program does not parse: %v\n%s", err, printed)
		}
		if dump(file) != dump(again) {
			t.Fatalf("round trip changed the tree:\n%s\n%s", dump(file), dump(again))
		}
		if _, err := Check(file); err != nil {
			checkPositioned(t, err)
		}
	})
}

func checkPositioned(t *testing.T, err error) {
	errs := Errors(err)
	if len(errs) == 0 {
		t.Fatalf("error without a position: %v", err)
	}
	for _, e := range errs {
		if e.Pos.File != "fuzz.lp" || e.Pos.Line < 1 || e.Pos.Col < 1 || e.Msg == "" {
			t.Fatalf("badly positioned error %q", e.Error())
		}
	}
}
