package lambdapack

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseValue parses a scalar argument: an int (42, -3) or a float (2.5,
// 1e-3). Ints must fit in 64 bits.
func ParseValue(s string) (Value, error) {
	t := strings.ReplaceAll(s, "_", "")
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		return Int(n), nil
	} else if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return Value{}, fmt.Errorf("%s is out of the int range", s)
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return Value{}, fmt.Errorf("%q is not a number", s)
	}
	return Float(f), nil
}

// ParseArgs parses scalar arguments given as NAME=VALUE words, as on the
// npw command line.
func ParseArgs(words []string) (map[string]Value, error) {
	args := make(map[string]Value, len(words))
	for _, w := range words {
		name, val, ok := strings.Cut(w, "=")
		if !ok || name == "" || !isName(name) {
			return nil, fmt.Errorf("bad argument %q: want NAME=VALUE, e.g. N=8", w)
		}
		if _, dup := args[name]; dup {
			return nil, fmt.Errorf("argument %s given twice", name)
		}
		v, err := ParseValue(val)
		if err != nil {
			return nil, fmt.Errorf("bad argument %s: %w", w, err)
		}
		args[name] = v
	}
	return args, nil
}

func isName(s string) bool {
	for i, r := range s {
		if !isIdentStart(r) && (i == 0 || !isIdentPart(r)) {
			return false
		}
	}
	return true
}
