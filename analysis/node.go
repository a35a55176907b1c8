package analysis

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/npw-dev/npw/lambdapack"
)

// A Node is a task: a kernel call statement and the values of its
// enclosing loop variables, outermost first. Unused value slots are zero,
// so equal tasks are equal Nodes and a Node can be a map key.
type Node struct {
	Stmt  uint16
	Depth uint8
	Vals  [lambdapack.MaxLoopDepth]int32
}

// Key returns the canonical compact text form of the node,
// "stmt:v0,v1,...", used as a queue message and a state-store key.
func (n Node) Key() string {
	return string(n.AppendKey(make([]byte, 0, 24)))
}

// AppendKey appends the key of n to b.
func (n Node) AppendKey(b []byte) []byte {
	b = strconv.AppendUint(b, uint64(n.Stmt), 10)
	b = append(b, ':')
	for i := range int(n.Depth) {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(n.Vals[i]), 10)
	}
	return b
}

func (n Node) String() string { return n.Key() }

// Compare orders nodes by statement, then by loop values; it is the
// order of sorted child and parent lists.
func (n Node) Compare(m Node) int {
	if n.Stmt != m.Stmt {
		return int(n.Stmt) - int(m.Stmt)
	}
	for i := range n.Vals {
		if n.Vals[i] != m.Vals[i] {
			if n.Vals[i] < m.Vals[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// parseNodeKey parses the syntax of a key; Plan.ParseKey also checks that
// the node is a task of the plan.
func parseNodeKey(key string) (Node, error) {
	var n Node
	stmt, vals, ok := strings.Cut(key, ":")
	if !ok {
		return n, fmt.Errorf("bad task key %q: want the form stmt:v0,v1", key)
	}
	s, err := strconv.ParseUint(stmt, 10, 16)
	if err != nil || strconv.FormatUint(s, 10) != stmt {
		return n, fmt.Errorf("bad task key %q: bad statement number", key)
	}
	n.Stmt = uint16(s)
	if vals == "" {
		return n, nil
	}
	parts := strings.Split(vals, ",")
	if len(parts) > lambdapack.MaxLoopDepth {
		return n, fmt.Errorf("bad task key %q: more than %d loop values", key, lambdapack.MaxLoopDepth)
	}
	n.Depth = uint8(len(parts))
	for i, part := range parts {
		v, err := strconv.ParseInt(part, 10, 32)
		if err != nil || strconv.FormatInt(v, 10) != part {
			return n, fmt.Errorf("bad task key %q: bad loop value %q", key, part)
		}
		n.Vals[i] = int32(v)
	}
	return n, nil
}

// A Tile names one tile of a matrix: the matrix's position among the
// program's BigMatrix parameters and its index tuple.
type Tile struct {
	Matrix uint8
	N      uint8 // number of indices
	Idx    [lambdapack.MaxIndexArity]int32
}

// Indices returns the index tuple.
func (t Tile) Indices() []int32 { return t.Idx[:t.N] }
