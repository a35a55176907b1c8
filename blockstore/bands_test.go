package blockstore

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// StreamGrid and WriteGrid move an array in bands of rows that cross the
// tiles: bands that split tiles, bands of tiles never written, ragged
// tiles, and a tile whose header is not npw's (read whole, decoded) all
// come out as the array, on every local driver; the bands read byte
// ranges of the tiles, not whole tiles.
func TestStreamBands(t *testing.T) {
	ctx := context.Background()
	oldBytes, oldShare := bandBytes, bandShare
	t.Cleanup(func() { bandBytes, bandShare = oldBytes, oldShare })
	bandShare = 1
	const rows, cols, block = 11, 7, 4
	for name, s := range testStores(t) {
		for _, bandRows := range []int{1, 3, 4, 100} {
			for _, fortranTile := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/band=%d/fortran=%v", name, bandRows, fortranTile), func(t *testing.T) {
					bandBytes = 8 * cols * bandRows
					a := randomArray(rand.New(rand.NewPCG(5, uint64(bandRows))), rows, cols)
					key := fmt.Sprintf("b%d%v", bandRows, fortranTile)
					st := putMatrix(t, s, key, a.Data, rows, cols, block)
					want := slices.Clone(a.Data)
					// Tile (0, 1) and the tile row 2 (rows 8-10) never written.
					if err := s.Delete(ctx, st.Grid.Key(0, 1), st.Grid.Key(2, 0), st.Grid.Key(2, 1)); err != nil {
						t.Fatal(err)
					}
					for r := range rows {
						for c := range cols {
							if r < 4 && c >= 4 || r >= 8 {
								want[r*cols+c] = 0
							}
						}
					}
					if fortranTile { // tile (1, 0), rows 4-7 and columns 0-3, in Fortran order
						var col []float64
						for c := range 4 {
							for r := 4; r < 8; r++ {
								col = append(col, a.Data[r*cols+c])
							}
						}
						data := EncodeNPY([]int{4, 4}, col)
						data = bytes.Replace(data, []byte("'fortran_order': False"), []byte("'fortran_order': True "), 1)
						if err := s.Put(ctx, st.Grid.Key(1, 0), data); err != nil {
							t.Fatal(err)
						}
					}
					wantNPY := EncodeNPY([]int{rows, cols}, want)
					gets := s.Stats().Gets.Load()
					var out bytes.Buffer
					if err := StreamGrid(ctx, &st.Grid, &out, 2); err != nil || !bytes.Equal(out.Bytes(), wantNPY) {
						t.Fatalf("streamed .npy differs (%v)", err)
					}
					// Whole tiles would take 4 reads; by bands: 6 headers, then a
					// range per band and tile written, or whole tiles for the
					// tile row with the Fortran tile.
					if n := s.Stats().Gets.Load() - gets; bandRows < 4 && n <= 6 {
						t.Errorf("StreamGrid made %d reads: not by bands", n)
					}
					for _, zeroed := range []bool{true, false} {
						path := filepath.Join(t.TempDir(), "a.npy")
						w, err := CreateNPY(path, rows, cols)
						if err != nil {
							t.Fatal(err)
						}
						if !zeroed { // a file with something else where the zeros go
							for r := range rows {
								w.put(int64(r*cols), slices.Repeat([]float64{7}, cols), nil)
							}
						}
						if err := WriteGrid(ctx, &st.Grid, w, zeroed, 3); err != nil {
							t.Fatal(err)
						}
						w.Close()
						if got, _ := os.ReadFile(path); !bytes.Equal(got, wantNPY) {
							t.Errorf("zeroed=%v: written .npy differs", zeroed)
						}
					}
				})
			}
		}
	}
}

// A tile that lies about its shape, and one that is cut short, fail the
// transfer with the tile's key.
func TestStreamBandsBadTile(t *testing.T) {
	ctx := context.Background()
	oldBytes, oldShare := bandBytes, bandShare
	t.Cleanup(func() { bandBytes, bandShare = oldBytes, oldShare })
	bandShare = 1
	bandBytes = 8 * 9 * 2
	for name, s := range testStores(t) {
		a := randomArray(rand.New(rand.NewPCG(1, 2)), 9, 9)
		short := EncodeNPY([]int{4, 4}, make([]float64, 16))
		short = short[:len(short)-48]
		for _, tc := range []struct {
			name string
			data []byte
			want string
		}{
			{"shape", EncodeNPY([]int{3, 4}, make([]float64, 12)), "is 3×4"},
			{"short", short, "unexpected EOF"},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				st := putMatrix(t, s, "bad"+tc.name, a.Data, 9, 9, 4)
				if err := s.Put(ctx, st.Grid.Key(1, 1), tc.data); err != nil {
					t.Fatal(err)
				}
				err := StreamGrid(ctx, &st.Grid, &bytes.Buffer{}, 2)
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), st.Grid.Key(1, 1)) {
					t.Errorf("StreamGrid: %v, want an error naming %s with %q", err, st.Grid.Key(1, 1), tc.want)
				}
			})
		}
	}
}
