package main

import (
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

// A command used wrongly exits 2 with one line saying what is wrong and
// one saying where the usage is.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the first line
		hint string // the second
	}{
		{[]string{"chol"}, `npw: unknown command "chol" for "npw"; did you mean cholesky?`, "Run 'npw help' for usage."},
		{[]string{"frobnicate", "--n", "3"}, `npw: unknown command "frobnicate" for "npw"`, "Run 'npw help' for usage."},
		{[]string{"deploy", "lamda"}, `npw: unknown command "lamda" for "npw deploy"; did you mean lambda?`, "Run 'npw deploy --help' for usage."},
		{[]string{"cholesky", "a.npy", "b.npy"}, `npw: cholesky takes at most one file, A.npy, got 2 arguments: a.npy b.npy`, "Run 'npw cholesky --help' for usage."},
		{[]string{"qr", "a.npy", "b.npy"}, `npw: qr takes at most one file, A.npy, got 2 arguments: a.npy b.npy`, "Run 'npw qr --help' for usage."},
		{[]string{"programs", "cholesky", "qr"}, `npw: programs takes at most one program name, got 2 arguments: cholesky qr`, "Run 'npw programs --help' for usage."},
		{[]string{"worker", "extra"}, `npw: worker takes no arguments, got extra`, "Run 'npw worker --help' for usage."},
		{[]string{"deploy", "policy", "extra"}, `npw: policy takes no arguments, got extra`, "Run 'npw deploy policy --help' for usage."},
		{[]string{"bench"}, `npw: bench takes one algorithm (cholesky, gemm, lu, qr), got 0 arguments`, "Run 'npw bench --help' for usage."},
		{[]string{"--frob"}, `npw: unknown flag: --frob`, "Run 'npw help' for usage."},
	} {
		code, stdout, stderr := npw(t, tc.args...)
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		if code != exitUsage || stdout != "" || len(lines) != 2 || lines[0] != tc.want || lines[1] != tc.hint {
			t.Errorf("npw %v: exit %d, stdout %q, stderr %q; want exit 2 and %q, %q", tc.args, code, stdout, stderr, tc.want, tc.hint)
		}
	}
	// Alone, a command of subcommands prints its help.
	if code, stdout, _ := npw(t, "deploy"); code != 0 || !strings.Contains(stdout, "Available Commands") {
		t.Errorf("npw deploy: exit %d\n%s", code, stdout)
	}
}

func TestVersion(t *testing.T) {
	code, stdout, stderr := npw(t, "--version")
	if code != 0 || !regexp.MustCompile(`^npw (devel( [0-9a-f]{12}( \(modified\))?)?|v\S+)\n$`).MatchString(stdout) {
		t.Errorf("npw --version: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, tc := range []struct {
		info debug.BuildInfo
		want string
	}{
		{debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "c29ed5a0123456789abcdef"}, {Key: "vcs.modified", Value: "true"}}}, "devel c29ed5a01234 (modified)"},
		{debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "c29ed5a0123456789abcdef"}, {Key: "vcs.modified", Value: "false"}}}, "devel c29ed5a01234"},
	} {
		if got := versionOf(&tc.info); got != tc.want {
			t.Errorf("versionOf(%+v) = %q, want %q", tc.info, got, tc.want)
		}
	}
}
