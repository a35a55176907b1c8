package zarr

import (
	"errors"
	"fmt"
)

// blosclzFarDistance is added to the 16-bit distance of far matches.
const blosclzFarDistance = 8191

// blosclzDecode decompresses a BloscLZ stream (C-Blosc's FastLZ variant)
// into dst and returns the number of bytes written. The stream is a run
// of tokens, each starting with a control byte c:
//
//   - c < 32 (the first token is always one; its top 3 bits are ignored):
//     c+1 literal bytes follow.
//   - c ≥ 32: a match of c>>5 + 2 bytes; a top value of 7 adds following
//     bytes up to one that is not 255. Then a byte d: the match copies from
//     (c&31)<<8 + d + 1 bytes back, unless c&31 is 31 and d is 255, when
//     two big-endian bytes give the distance less 8192. A match is always
//     followed by another token.
func blosclzDecode(src, dst []byte) (int, error) {
	if len(src) == 0 {
		return 0, nil
	}
	ip, op := 1, 0
	ctrl := int(src[0] & 31)
	for {
		var err error
		if ctrl >= 32 {
			ip, op, err = blosclzMatch(src, dst, ip, op, ctrl)
		} else {
			ip, op, err = blosclzLiteral(src, dst, ip, op, ctrl+1)
		}
		if err != nil {
			return 0, fmt.Errorf("blosclz: %w", err)
		}
		if ip >= len(src) {
			return op, nil
		}
		ctrl = int(src[ip])
		ip++
	}
}

func blosclzLiteral(src, dst []byte, ip, op, n int) (int, int, error) {
	if n > len(dst)-op || n > len(src)-ip {
		return 0, 0, errors.New("literal run beyond the stream or the block")
	}
	copy(dst[op:], src[ip:ip+n])
	return ip + n, op + n, nil
}

// blosclzMatch reads a match's length and distance and copies it.
func blosclzMatch(src, dst []byte, ip, op, ctrl int) (int, int, error) {
	n := ctrl>>5 - 1
	if n == 6 {
		for {
			if ip >= len(src) {
				return 0, 0, errors.New("truncated match length")
			}
			code := src[ip]
			ip++
			n += int(code)
			if code != 255 {
				break
			}
		}
	}
	if ip+1 >= len(src) { // the distance byte, and a token after the match
		return 0, 0, errors.New("truncated match")
	}
	code := int(src[ip])
	ip++
	n += 3
	dist := (ctrl&31)<<8 + code + 1
	if code == 255 && ctrl&31 == 31 {
		if ip+2 >= len(src) {
			return 0, 0, errors.New("truncated far match")
		}
		dist = int(src[ip])<<8 + int(src[ip+1]) + blosclzFarDistance + 1
		ip += 2
	}
	if n > len(dst)-op || dist > op {
		return 0, 0, errors.New("match beyond the block")
	}
	for k := range n { // byte by byte: the source may overlap the copy
		dst[op+k] = dst[op-dist+k]
	}
	return ip, op + n, nil
}
