package zarr

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/pierrec/lz4/v4"
)

// bloscParams are the choices C-Blosc 1.x makes for one buffer.
type bloscParams struct {
	clevel, typesize, shuffle int
	hc                        bool // lz4hc
	blocksize                 int
	split                     bool
}

// newBloscParams resolves a configuration for a buffer of n bytes of
// typesize-byte elements the way numcodecs and C-Blosc do.
func newBloscParams(c *Compressor, typesize, n int) (bloscParams, error) {
	if c.CName != "lz4" && c.CName != "lz4hc" {
		return bloscParams{}, fmt.Errorf("blosc cname %q: npw writes lz4 and lz4hc", c.CName)
	}
	p := bloscParams{clevel: c.CLevel, typesize: typesize, shuffle: c.Shuffle, hc: c.CName == "lz4hc"}
	if p.shuffle == -1 { // numcodecs' AUTOSHUFFLE
		p.shuffle = 1
		if typesize == 1 {
			p.shuffle = 2
		}
	}
	p.blocksize = p.computeBlockSize(n, c.BlockSize)
	p.split = p.splits(p.blocksize)
	return p, nil
}

// splits is C-Blosc's default (forward compatible) choice of splitting
// blocks into one stream per byte of the type.
func (p bloscParams) splits(blocksize int) bool {
	return p.typesize <= bloscMaxSplits && blocksize/p.typesize >= bloscMinBuffer
}

// computeBlockSize picks the block size as C-Blosc 1.x does: an L1-sized
// block scaled by the level, enlarged for split codecs, kept within the
// buffer and a multiple of the type size.
func (p bloscParams) computeBlockSize(n, forced int) int {
	if n < p.typesize {
		return 1
	}
	bs := n
	switch {
	case forced > 0:
		bs = min(max(forced, bloscMinBuffer), bloscMaxBlock)
	case n >= bloscL1:
		bs = bloscL1 * levelQuarters(p.clevel, p.hc) / 4
	}
	if p.clevel > 0 && p.splits(bs) {
		bs = min(max(min(bs, 1<<18)*p.typesize, 1<<16), 1<<20)
	}
	bs = min(bs, n)
	if bs > p.typesize {
		bs = bs / p.typesize * p.typesize
	}
	return bs
}

// levelQuarters is the block size of a level in quarters of L1; lz4hc,
// meant for high ratios, takes twice as much (four times at level 9).
func levelQuarters(clevel int, hc bool) int {
	scale := []int{1, 2, 4, 8, 16, 16, 32, 32, 32, 32}[clevel] // in quarters
	if hc {
		scale *= 2
		if clevel == 9 {
			scale *= 2
		}
	}
	return scale
}

// bloscEncoder writes one frame; it is not safe for concurrent use.
type bloscEncoder struct {
	bloscParams
	fast *lz4.CompressorCCompat
	hc   *lz4.CompressorHC
	tmp  *[]byte // a shuffled block
}

var (
	fastPool = sync.Pool{New: func() any { return new(lz4.CompressorCCompat) }}
	hcPool   = sync.Pool{New: func() any { return new(lz4.CompressorHC) }}
)

// hcLevels maps Blosc levels to the search depths of lz4's HC levels.
var hcLevels = []lz4.CompressionLevel{lz4.Level1, lz4.Level1, lz4.Level2, lz4.Level3,
	lz4.Level4, lz4.Level5, lz4.Level6, lz4.Level7, lz4.Level8, lz4.Level9}

// bloscEncode compresses src, of typesize-byte elements, into a Blosc 1
// frame that numcodecs decodes: the frame C-Blosc 1.x would write, with
// blocks stored raw where they do not compress and the whole buffer
// copied when compression would make it larger.
func bloscEncode(src []byte, typesize int, c *Compressor) ([]byte, error) {
	p, err := newBloscParams(c, typesize, len(src))
	if err != nil {
		return nil, err
	}
	if p.clevel == 0 || len(src) < bloscMinBuffer {
		return p.copyFrame(src), nil
	}
	e := newBloscEncoder(p)
	defer e.release()
	scratch := getBuf(bloscHeader + len(src))
	defer putBuf(scratch)
	if out, ok := e.encode(src, (*scratch)[:0:bloscHeader+len(src)]); ok {
		return bytes.Clone(out), nil
	}
	return p.copyFrame(src), nil
}

// newBloscEncoder takes a pooled LZ4 compressor and block buffer, which
// release returns.
func newBloscEncoder(p bloscParams) *bloscEncoder {
	e := &bloscEncoder{bloscParams: p, tmp: getBuf(p.blocksize)}
	if p.hc {
		e.hc = hcPool.Get().(*lz4.CompressorHC)
		e.hc.Level = hcLevels[p.clevel]
	} else {
		e.fast = fastPool.Get().(*lz4.CompressorCCompat)
		e.fast.Acceleration = 10 - p.clevel // as C-Blosc sets it
	}
	return e
}

func (e *bloscEncoder) release() {
	putBuf(e.tmp)
	if e.hc != nil {
		hcPool.Put(e.hc)
	} else {
		fastPool.Put(e.fast)
	}
}

// header writes the 16-byte header; cbytes is set by the caller.
func (p bloscParams) header(out []byte, n, flags int) {
	flags |= formatLZ4 << 5
	switch p.shuffle {
	case 1:
		flags |= flagShuffle
	case 2:
		flags |= flagBitShuffle
	}
	if !p.split {
		flags |= flagDontSplit
	}
	out[0], out[1], out[2], out[3] = bloscVersion, bloscCodecFormat, byte(flags), byte(p.typesize)
	binary.LittleEndian.PutUint32(out[4:], uint32(n))
	binary.LittleEndian.PutUint32(out[8:], uint32(p.blocksize))
}

// copyFrame is the frame of an uncompressed buffer.
func (p bloscParams) copyFrame(src []byte) []byte {
	out := make([]byte, bloscHeader, bloscHeader+len(src))
	p.header(out, len(src), flagMemcpy)
	out = append(out, src...)
	binary.LittleEndian.PutUint32(out[12:], uint32(len(out)))
	return out
}

// encode writes a compressed frame into out, whose capacity is the size
// of a copy, or reports false when it would not fit.
func (e *bloscEncoder) encode(src, out []byte) ([]byte, bool) {
	nblocks := ceilDiv(len(src), e.blocksize)
	if bloscHeader+4*nblocks > cap(out) {
		return nil, false
	}
	out = out[:bloscHeader+4*nblocks]
	e.header(out, len(src), 0)
	for j := range nblocks {
		binary.LittleEndian.PutUint32(out[bloscHeader+4*j:], uint32(len(out)))
		block := src[j*e.blocksize : min((j+1)*e.blocksize, len(src))]
		var ok bool
		if out, ok = e.encodeBlock(out, block); !ok {
			return nil, false
		}
	}
	binary.LittleEndian.PutUint32(out[12:], uint32(len(out)))
	return out, true
}

// encodeBlock shuffles a block and appends its streams to out.
func (e *bloscEncoder) encodeBlock(out, block []byte) ([]byte, bool) {
	data := block
	switch {
	case e.shuffle == 1 && e.typesize > 1:
		data = (*e.tmp)[:len(block)]
		shuffle(data, block, e.typesize)
	case e.shuffle == 2 && len(block) >= e.typesize:
		data = (*e.tmp)[:len(block)]
		bitShuffle(data, block, e.typesize)
	}
	nsplits := 1
	if e.split && len(block) == e.blocksize {
		nsplits = e.typesize
	}
	size := len(block) / nsplits
	for k := range nsplits {
		var ok bool
		if out, ok = e.encodeSplit(out, data[k*size:(k+1)*size]); !ok {
			return nil, false
		}
	}
	return out, true
}

// encodeSplit appends a stream's length and its compressed bytes, or the
// raw bytes if they do not compress, within out's capacity.
func (e *bloscEncoder) encodeSplit(out, data []byte) ([]byte, bool) {
	at := len(out)
	if at+4 > cap(out) {
		return nil, false
	}
	out = out[:at+4]
	room := out[at+4 : at+4+min(len(data), cap(out)-at-4)]
	n, err := e.compress(data, room)
	if err != nil || n == 0 || n >= len(data) {
		if len(data) > cap(out)-len(out) {
			return nil, false
		}
		n = len(data)
		copy(out[at+4:at+4+n], data)
	}
	binary.LittleEndian.PutUint32(out[at:], uint32(n))
	return out[:at+4+n], true
}

func (e *bloscEncoder) compress(src, dst []byte) (int, error) {
	if e.hc != nil {
		return e.hc.CompressBlock(src, dst)
	}
	return e.fast.CompressBlock(src, dst)
}
