package lambdapack

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

//go:embed programs/*.lp
var shipped embed.FS

// Shipped returns the names of the programs built into npw (cholesky,
// gemm, tsqr, ...), sorted.
func Shipped() []string {
	entries, _ := fs.ReadDir(shipped, "programs")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".lp"))
	}
	sort.Strings(names)
	return names
}

// ShippedSource returns the source of a built-in program by short name
// ("cholesky" or "cholesky.lp").
func ShippedSource(name string) (string, bool) {
	name = strings.TrimSuffix(name, ".lp")
	if name == "" || strings.ContainsAny(name, "/\\") {
		return "", false
	}
	src, err := shipped.ReadFile(path.Join("programs", name+".lp"))
	if err != nil {
		return "", false
	}
	return string(src), true
}

// ReadSource reads a program given a path or the short name of a shipped
// program. A file that exists wins over a shipped program of the same
// name. It returns the name to use in positions and the source.
func ReadSource(ref string) (filename, src string, err error) {
	data, err := os.ReadFile(ref)
	if err == nil {
		return ref, string(data), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", "", err
	}
	if s, ok := ShippedSource(ref); ok {
		return strings.TrimSuffix(ref, ".lp") + ".lp", s, nil
	}
	return "", "", fmt.Errorf("%s: no such file or shipped program (shipped: %s)", ref, strings.Join(Shipped(), ", "))
}

// LoadProgram reads, parses and checks a program given a path or the
// short name of a shipped program.
func LoadProgram(ref string) (*Program, error) {
	filename, src, err := ReadSource(ref)
	if err != nil {
		return nil, err
	}
	return Load(filename, src)
}

// StripComments removes comments (from # to the end of a line) and the
// spaces before them, keeping every line, so the line and column of every
// token, and of every error, stay those of the original source.
func StripComments(src string) string {
	lines := strings.Split(src, "\n")
	for i, l := range lines {
		if c := strings.IndexByte(l, '#'); c >= 0 {
			l = l[:c]
		}
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	return strings.Join(lines, "\n")
}
