package zarr

// Internals for the tests, which are in package zarr_test because they
// read .npy files with blockstore, which imports this package.

const (
	BloscHeader  = bloscHeader
	FlagMemcpy   = flagMemcpy
	FlagReserved = flagReserved
)

var (
	BloscDecode   = bloscDecode
	BloscEncode   = bloscEncode
	BlosclzDecode = blosclzDecode
	Le32          = le32
	Transpose8    = transpose8
)

func (m Meta) ChunkShape() (rows, cols int) { return m.chunkShape() }
func (m Meta) ChunkLen() int                { return m.chunkLen() }
func (m Meta) Fill() float64                { return m.fill() }
func (m Meta) FillJSON() string             { return m.fillJSON() }

// DType returns the size in bytes and the kind ('f', 'i', 'u' or 'b') of
// a type string.
func DType(s string) (size int, kind byte) { return dtypes[s].size, dtypes[s].kind }

// DTypeFits reports whether the type holds v exactly.
func DTypeFits(s string, v float64) bool { return dtypes[s].fits(v) }
