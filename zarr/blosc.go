package zarr

// The Blosc 1 frame of C-Blosc 1.x (README_CHUNK_FORMAT.rst there), which
// numcodecs' Blosc codec writes:
//
//	16-byte header: version (2), codec format version (1), flags, typesize,
//	nbytes, blocksize, cbytes (little-endian uint32s; cbytes counts the
//	header); then, unless the frame is a plain copy (flag 0x02), one
//	int32 start per block, and per block one stream per split, each an
//	int32 length and that many bytes: compressed, or the raw split when
//	its length is the split's size.
//
// A block of blocksize bytes (the last one holds what is left) is byte-
// or bit-shuffled by typesize as a whole, then cut into typesize splits
// (unless flag 0x10 says not to), each compressed on its own. Flags bits
// 5 to 7 name the codec: 0 blosclz, 1 lz4 (and lz4hc), 2 snappy, 3 zlib,
// 4 zstd.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/pierrec/lz4/v4"
)

const (
	bloscHeader      = 16
	bloscVersion     = 2   // BLOSC_VERSION_FORMAT of C-Blosc 1.x
	bloscCodecFormat = 1   // the codec format version of blosclz and lz4
	bloscMinBuffer   = 128 // buffers smaller are copied; splits need this many elements
	bloscMaxSplits   = 16  // types larger are not split
	bloscL1          = 32 << 10

	flagShuffle    = 0x01
	flagMemcpy     = 0x02
	flagBitShuffle = 0x04
	flagReserved   = 0x08
	flagDontSplit  = 0x10

	formatBloscLZ = 0
	formatLZ4     = 1
)

// bloscMaxBlock is C-Blosc's largest block.
const bloscMaxBlock = (math.MaxInt32 - 255*4) / 3

// formatNames are the codec formats of flags bits 5 to 7.
var formatNames = []string{"blosclz", "lz4", "snappy", "zlib", "zstd"}

// errCorrupt is wrapped by every error about a malformed Blosc frame.
var errCorrupt = errors.New("corrupt Blosc frame")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errCorrupt, fmt.Sprintf(format, args...))
}

// bloscFrame is a checked frame header and the frame's bytes.
type bloscFrame struct {
	data                       []byte // the frame, cut to cbytes
	flags, typesize            int
	nbytes, blocksize, nblocks int
}

func le32(b []byte) int { return int(int32(binary.LittleEndian.Uint32(b))) }

// readBloscHeader checks a frame's header against the len(want) bytes
// the chunk must hold, so that no length in the frame is trusted later.
func readBloscHeader(data []byte, want int) (*bloscFrame, error) {
	if len(data) < bloscHeader {
		return nil, corrupt("%d bytes, shorter than the 16-byte header", len(data))
	}
	if data[0] != bloscVersion {
		return nil, fmt.Errorf("frame of Blosc format version %d: npw reads version 2 (C-Blosc 1.x, numcodecs)", data[0])
	}
	f := &bloscFrame{flags: int(data[2]), typesize: int(data[3]),
		nbytes: int(binary.LittleEndian.Uint32(data[4:])), blocksize: le32(data[8:])}
	cbytes := int(binary.LittleEndian.Uint32(data[12:]))
	switch {
	case f.nbytes != want:
		return nil, corrupt("it holds %d bytes, the chunk has %d", f.nbytes, want)
	case cbytes > len(data):
		return nil, corrupt("cbytes %d is beyond its %d bytes", cbytes, len(data))
	case cbytes < bloscHeader:
		return nil, corrupt("cbytes %d is shorter than the header", cbytes)
	case f.flags&flagReserved != 0:
		return nil, corrupt("reserved flag 0x08 is set")
	}
	f.data = data[:cbytes]
	if f.nbytes == 0 {
		return f, nil
	}
	return f, f.checkLayout(data[1])
}

// checkLayout checks the block layout and codec of a non-empty frame.
func (f *bloscFrame) checkLayout(codecVersion byte) error {
	if f.typesize == 0 {
		return corrupt("typesize is 0")
	}
	if f.blocksize <= 0 || f.blocksize > f.nbytes || f.blocksize > bloscMaxBlock {
		return corrupt("blocksize %d for %d bytes", f.blocksize, f.nbytes)
	}
	f.nblocks = ceilDiv(f.nbytes, f.blocksize)
	if f.flags&flagMemcpy != 0 {
		if len(f.data) != bloscHeader+f.nbytes {
			return corrupt("a copied frame of %d bytes has cbytes %d", f.nbytes, len(f.data))
		}
		return nil
	}
	format := f.flags >> 5
	if format != formatLZ4 && format != formatBloscLZ {
		name := fmt.Sprintf("codec %d", format)
		if format < len(formatNames) {
			name = formatNames[format]
		}
		return fmt.Errorf("frame compressed with %s: npw reads Blosc with %s", name, supportedCNames)
	}
	if codecVersion != bloscCodecFormat {
		return corrupt("%s format version %d, not 1", formatNames[format], codecVersion)
	}
	if bloscHeader+4*f.nblocks > len(f.data) {
		return corrupt("%d block starts do not fit in cbytes %d", f.nblocks, len(f.data))
	}
	return nil
}

// bloscDecode decompresses a Blosc frame that must hold n bytes. The
// header is checked before the n bytes are allocated.
func bloscDecode(data []byte, n int) ([]byte, error) {
	f, err := readBloscHeader(data, n)
	if err != nil {
		return nil, err
	}
	dst := make([]byte, n)
	return dst, f.decode(dst)
}

// decode decompresses the checked frame into dst, which may hold old
// bytes; every byte is written or an error returned.
func (f *bloscFrame) decode(dst []byte) error {
	if f.nbytes == 0 {
		return nil
	}
	if f.flags&flagMemcpy != 0 {
		copy(dst, f.data[bloscHeader:])
		return nil
	}
	tmp := getBuf(f.blocksize)
	defer putBuf(tmp)
	for j := range f.nblocks {
		start := j * f.blocksize
		end := min(start+f.blocksize, f.nbytes)
		off := le32(f.data[bloscHeader+4*j:])
		if err := f.decodeBlock(off, dst[start:end], *tmp); err != nil {
			return fmt.Errorf("block %d: %w", j, err)
		}
	}
	return nil
}

// splits is the number of streams a block of n bytes is cut into.
func (f *bloscFrame) splits(n int) int {
	if f.flags&flagDontSplit == 0 && f.typesize <= bloscMaxSplits &&
		n/f.typesize >= bloscMinBuffer && n == f.blocksize {
		return f.typesize
	}
	return 1
}

// decodeBlock decompresses the block whose streams start at off into
// dst, then undoes its shuffle; tmp holds a block.
func (f *bloscFrame) decodeBlock(off int, dst, tmp []byte) error {
	shuffle := f.flags&flagShuffle != 0 && f.typesize > 1
	bitShuffle := !shuffle && f.flags&flagBitShuffle != 0 && len(dst) >= f.typesize
	out := dst
	if shuffle || bitShuffle {
		out = tmp[:len(dst)]
	}
	nsplits := f.splits(len(dst))
	size := len(dst) / nsplits
	if size*nsplits != len(dst) {
		return corrupt("block of %d bytes in %d splits", len(dst), nsplits)
	}
	for k := range nsplits {
		var err error
		if off, err = f.decodeSplit(off, out[k*size:(k+1)*size]); err != nil {
			return fmt.Errorf("split %d: %w", k, err)
		}
	}
	switch {
	case shuffle:
		unshuffle(dst, out, f.typesize)
	case bitShuffle:
		bitUnshuffle(dst, out, f.typesize)
	}
	return nil
}

// decodeSplit decompresses the stream at off into dst and returns the
// offset of the next stream.
func (f *bloscFrame) decodeSplit(off int, dst []byte) (int, error) {
	if off < 0 || off > len(f.data)-4 {
		return 0, corrupt("stream offset %d outside cbytes %d", off, len(f.data))
	}
	n := le32(f.data[off:])
	off += 4
	if n < 0 || n > len(f.data)-off {
		return 0, corrupt("stream of %d bytes at %d outside cbytes %d", n, off, len(f.data))
	}
	src := f.data[off : off+n]
	if n == len(dst) {
		copy(dst, src)
		return off + n, nil
	}
	got, err := f.decompress(src, dst)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	if got != len(dst) {
		return 0, corrupt("stream gives %d bytes, not %d", got, len(dst))
	}
	return off + n, nil
}

// decompress runs the frame's codec.
func (f *bloscFrame) decompress(src, dst []byte) (int, error) {
	if f.flags>>5 == formatBloscLZ {
		return blosclzDecode(src, dst)
	}
	n, err := lz4.UncompressBlock(src, dst)
	if err != nil {
		return 0, fmt.Errorf("lz4: %w", err)
	}
	return n, nil
}
