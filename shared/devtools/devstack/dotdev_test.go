package devstack

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jobhooks/jobhooks/shared/devtools/emulator"
)

// TestTheTestSuite_WritesNothingIntoTheRepositorysDotDev: a developer's scripts/dev keeps its
// state in the repository's .dev while the tests run beside it, so no test names a path under
// .dev (screenshots, logs, binaries go to a directory the test owns), and the scripts the tests
// run build their binaries into the state directory they are given, not into .dev/bin.
func TestTheTestSuite_WritesNothingIntoTheRepositorysDotDev(t *testing.T) {
	root, _ := filepath.Abs("../../..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".dev" || d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); !ok || (pkg.Name != "filepath" && pkg.Name != "os" && pkg.Name != "path") {
				return true
			}
			for _, arg := range call.Args {
				lit, ok := arg.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				if s, _ := strconv.Unquote(lit.Value); s == ".dev" || strings.HasPrefix(s, ".dev/") {
					rel, _ := filepath.Rel(root, path)
					t.Errorf("%s:%d: %s.%s(%s...): a test writes into the repository's .dev; use t.TempDir()",
						rel, fset.Position(lit.Pos()).Line, sel.X, sel.Sel.Name, lit.Value)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	emulator.NeedGcloud(t) // the rest builds every script's binary: not for -short
	for _, c := range []struct {
		script string
		args   []string
	}{
		{"dev", []string{"--dir", "DIR"}},
		{"bench", []string{"--dir=DIR"}},
		{"storm", []string{"--dir", "DIR"}},
		{"publish", nil},
		{"trace", nil},
	} {
		dir := t.TempDir()
		var args []string
		for _, a := range c.args {
			args = append(args, strings.ReplaceAll(a, "DIR", dir))
		}
		cmd := exec.Command(filepath.Join(root, "scripts", c.script), append(args, "--help")...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "JOBHOOKS_DEV_DIR="+dir, "PUBSUB_EMULATOR_HOST=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("scripts/%s --help: %v\n%s", c.script, err, out)
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "bin", c.script)); err != nil {
			t.Errorf("scripts/%s with its state in %s built no %s/bin/%s: it builds into another directory", c.script, dir, dir, c.script)
		}
	}
}
