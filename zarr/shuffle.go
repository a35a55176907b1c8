package zarr

import "encoding/binary"

// The shuffles of Blosc. Byte shuffle stores byte k of every element
// together (all first bytes, then all second bytes, ...), so that the
// slowly varying high bytes of numbers compress; bytes past the last
// whole element stay where they are. Bit shuffle does the same with bits:
// for byte k and bit b of the elements (k*8+b in order), a row of n/8
// bytes whose byte i holds, from its lowest bit up, that bit of elements
// 8i to 8i+7; it applies only when the number of elements n is a multiple
// of 8 (other blocks are left as they are), again leaving the tail bytes.

// shuffle byte-shuffles src into dst.
func shuffle(dst, src []byte, typesize int) {
	n := len(src) / typesize
	done := 0
	if typesize == 8 {
		done = n / 8 * 8
		d0, d1, d2, d3 := dst[:n], dst[n:2*n], dst[2*n:3*n], dst[3*n:4*n]
		d4, d5, d6, d7 := dst[4*n:5*n], dst[5*n:6*n], dst[6*n:7*n], dst[7*n:8*n]
		le := binary.LittleEndian
		for i := 0; i < done; i += 8 {
			s := src[8*i : 8*i+64]
			x0, x1, x2, x3, x4, x5, x6, x7 := transposeBytes(le.Uint64(s), le.Uint64(s[8:]),
				le.Uint64(s[16:]), le.Uint64(s[24:]), le.Uint64(s[32:]), le.Uint64(s[40:]),
				le.Uint64(s[48:]), le.Uint64(s[56:]))
			le.PutUint64(d0[i:], x0)
			le.PutUint64(d1[i:], x1)
			le.PutUint64(d2[i:], x2)
			le.PutUint64(d3[i:], x3)
			le.PutUint64(d4[i:], x4)
			le.PutUint64(d5[i:], x5)
			le.PutUint64(d6[i:], x6)
			le.PutUint64(d7[i:], x7)
		}
	}
	for k := range typesize {
		row := dst[k*n : (k+1)*n]
		for i := done; i < n; i++ {
			row[i] = src[i*typesize+k]
		}
	}
	copy(dst[n*typesize:], src[n*typesize:])
}

// unshuffle undoes shuffle.
func unshuffle(dst, src []byte, typesize int) {
	n := len(src) / typesize
	done := 0
	if typesize == 8 {
		done = n / 8 * 8
		s0, s1, s2, s3 := src[:n], src[n:2*n], src[2*n:3*n], src[3*n:4*n]
		s4, s5, s6, s7 := src[4*n:5*n], src[5*n:6*n], src[6*n:7*n], src[7*n:8*n]
		le := binary.LittleEndian
		for i := 0; i < done; i += 8 {
			x0, x1, x2, x3, x4, x5, x6, x7 := transposeBytes(le.Uint64(s0[i:]), le.Uint64(s1[i:]),
				le.Uint64(s2[i:]), le.Uint64(s3[i:]), le.Uint64(s4[i:]), le.Uint64(s5[i:]),
				le.Uint64(s6[i:]), le.Uint64(s7[i:]))
			d := dst[8*i : 8*i+64]
			le.PutUint64(d, x0)
			le.PutUint64(d[8:], x1)
			le.PutUint64(d[16:], x2)
			le.PutUint64(d[24:], x3)
			le.PutUint64(d[32:], x4)
			le.PutUint64(d[40:], x5)
			le.PutUint64(d[48:], x6)
			le.PutUint64(d[56:], x7)
		}
	}
	for k := range typesize {
		row := src[k*n : (k+1)*n]
		for i := done; i < n; i++ {
			dst[i*typesize+k] = row[i]
		}
	}
	copy(dst[n*typesize:], src[n*typesize:])
}

// transposeBytes transposes the 8×8 byte matrix whose rows are the
// little-endian words x0 to x7: byte c of row r becomes byte r of row c.
// It swaps the off-diagonal 4×4 blocks, then 2×2, then single bytes.
func transposeBytes(x0, x1, x2, x3, x4, x5, x6, x7 uint64) (y0, y1, y2, y3, y4, y5, y6, y7 uint64) {
	x0, x4 = swapBlocks(x0, x4, 32, 0x00000000FFFFFFFF)
	x1, x5 = swapBlocks(x1, x5, 32, 0x00000000FFFFFFFF)
	x2, x6 = swapBlocks(x2, x6, 32, 0x00000000FFFFFFFF)
	x3, x7 = swapBlocks(x3, x7, 32, 0x00000000FFFFFFFF)
	x0, x2 = swapBlocks(x0, x2, 16, 0x0000FFFF0000FFFF)
	x1, x3 = swapBlocks(x1, x3, 16, 0x0000FFFF0000FFFF)
	x4, x6 = swapBlocks(x4, x6, 16, 0x0000FFFF0000FFFF)
	x5, x7 = swapBlocks(x5, x7, 16, 0x0000FFFF0000FFFF)
	x0, x1 = swapBlocks(x0, x1, 8, 0x00FF00FF00FF00FF)
	x2, x3 = swapBlocks(x2, x3, 8, 0x00FF00FF00FF00FF)
	x4, x5 = swapBlocks(x4, x5, 8, 0x00FF00FF00FF00FF)
	x6, x7 = swapBlocks(x6, x7, 8, 0x00FF00FF00FF00FF)
	return x0, x1, x2, x3, x4, x5, x6, x7
}

// swapBlocks swaps the high blocks (of shift bits, under ^mask) of a with
// the low blocks (under mask) of b.
func swapBlocks(a, b uint64, shift uint, mask uint64) (uint64, uint64) {
	return a&mask | (b&mask)<<shift, (a>>shift)&mask | b&^mask
}

// transpose8 transposes the 8×8 bit matrix whose rows are the bytes of x:
// bit c of byte r becomes bit r of byte c.
func transpose8(x uint64) uint64 {
	t := (x ^ x>>7) & 0x00AA00AA00AA00AA
	x ^= t ^ t<<7
	t = (x ^ x>>14) & 0x0000CCCC0000CCCC
	x ^= t ^ t<<14
	t = (x ^ x>>28) & 0x00000000F0F0F0F0
	return x ^ t ^ t<<28
}

// bitShuffle bit-shuffles src into dst.
func bitShuffle(dst, src []byte, typesize int) {
	n := len(src) / typesize
	if n%8 != 0 {
		copy(dst, src)
		return
	}
	rows := n / 8
	for k := range typesize {
		for i := range rows {
			var x uint64
			for e := range 8 {
				x |= uint64(src[(8*i+e)*typesize+k]) << (8 * e)
			}
			x = transpose8(x)
			for b := range 8 {
				dst[(8*k+b)*rows+i] = byte(x >> (8 * b))
			}
		}
	}
	copy(dst[n*typesize:], src[n*typesize:])
}

// bitUnshuffle undoes bitShuffle.
func bitUnshuffle(dst, src []byte, typesize int) {
	n := len(src) / typesize
	if n%8 != 0 {
		copy(dst, src)
		return
	}
	rows := n / 8
	for k := range typesize {
		for i := range rows {
			var x uint64
			for b := range 8 {
				x |= uint64(src[(8*k+b)*rows+i]) << (8 * b)
			}
			x = transpose8(x)
			for e := range 8 {
				dst[(8*i+e)*typesize+k] = byte(x >> (8 * e))
			}
		}
	}
	copy(dst[n*typesize:], src[n*typesize:])
}
