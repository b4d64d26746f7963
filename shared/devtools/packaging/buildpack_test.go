package packaging

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/jobhooks/jobhooks/shared/config"
)

// targets maps each function package (functions/<dir>) to the FUNCTION_TARGET it registers.
// A new function package must be added here, or the test fails rather than skip it.
var targets = map[string]string{
	"dispatch":   "Dispatch",
	"deliver":    "Deliver",
	"deadletter": "DeadLetter",
	"api":        "API",
	"jwks":       "JWKS",
}

const (
	frameworkModule = "github.com/GoogleCloudPlatform/functions-framework-go"
	// Importing this package is how the buildpack tells a declarative function (registered in
	// init()) from a legacy one, whose main would reference userfunction.<FUNCTION_TARGET>.
	frameworkFunctionsPackage = frameworkModule + "/functions"
	// The buildpack moves the upload into this directory of the application root, and writes
	// its main into <source>/functions.local/app.
	sourceDir  = "serverless_function_source_code"
	appPackage = "functions.local/app"
)

// mainTemplate is the main the buildpack generates for a declarative function: it imports the
// root package of the upload for its init() side effects and starts the framework on $PORT.
var mainTemplate = template.Must(template.New("main").Parse(`// Code generated as Google's Go buildpack generates it for a declarative function.
package main

import (
	"log"
	"net/http"
	"os"

	_ "{{.Package}}"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

func main() {
	// The buildpack's main keeps these two paths away from the function.
	http.HandleFunc("/robots.txt", http.NotFound)
	http.HandleFunc("/favicon.ico", http.NotFound)

	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := funcframework.Start(port); err != nil {
		log.Fatalf("Function failed to start: %v\n", err)
	}
}
`))

// skipShort: packaging and building every function takes minutes, not seconds; these tests run
// without -short (CI runs everything).
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: builds the upload archive and every function")
	}
}

func TestPackage_BuildsAndStartsEveryTargetLikeTheGoBuildpack(t *testing.T) {
	skipShort(t)
	work := t.TempDir()
	archive := runPackage(t, filepath.Join(work, "upload.zip"))

	src := filepath.Join(work, "workspace", sourceDir)
	unzip(t, archive, src)
	functionDirs := assertUploadContents(t, src)

	// converter/get_package: the package name and imports of the .go files at the source root.
	name, imports := parseRootPackage(t, src)
	if slices.Contains([]string{"main", "functions", "shared", "scripts", "terraform"}, name) {
		t.Fatalf("root package is named %q: the buildpack would import a directory of that name (or build a command)", name)
	}
	module := strings.TrimSpace(goCmd(t, src, "list", "-m"))
	if first, _, _ := strings.Cut(module, "/"); !strings.Contains(first, ".") {
		t.Fatalf("module path %q: the buildpack requires a dot in its first element", module)
	}
	// moduleAndPackageNames: a directory named like the root package would be imported instead
	// of the root package, module/<name> rather than module.
	if fi, err := os.Stat(filepath.Join(src, name)); err == nil && fi.IsDir() {
		t.Fatalf("the upload has a directory %q, named like the root package: the buildpack would import %s/%s", name, module, name)
	}
	if !slices.Contains(imports, frameworkFunctionsPackage) {
		t.Fatalf("root package does not import %s: the buildpack would generate a main that references userfunction.<FUNCTION_TARGET>, which does not exist", frameworkFunctionsPackage)
	}
	for _, dir := range functionDirs {
		if p := module + "/functions/" + dir; !slices.Contains(imports, p) {
			t.Errorf("root package does not import %s: FUNCTION_TARGET=%s would find nothing registered", p, targets[dir])
		}
	}
	// frameworkSpecifiedVersion: the function's go.mod pins the framework, so none is injected.
	if v := strings.TrimSpace(goCmd(t, src, "list", "-m", "-f", "{{.Version}}", frameworkModule)); v == "" {
		t.Fatalf("go.mod does not require %s", frameworkModule)
	}

	// createMainGoMod: main under <source>/functions.local/app, `go mod tidy`, then the go build
	// buildpack builds that directory with the source as its working directory.
	mainDir := filepath.Join(src, filepath.FromSlash(appPackage))
	if err := os.MkdirAll(mainDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var main bytes.Buffer
	if err := mainTemplate.Execute(&main, struct{ Package string }{module}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mainDir, "main.go"), main.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	goCmd(t, src, "mod", "tidy")
	bin := filepath.Join(work, "bin", "main")
	goCmd(t, src, "build", "-o", bin, "./"+appPackage)

	for _, dir := range functionDirs {
		target := targets[dir]
		t.Run(target, func(t *testing.T) {
			assertAnswersHTTP(t, bin, target)
		})
	}
}

func TestPackage_IsReproducible(t *testing.T) {
	skipShort(t)
	work := t.TempDir()
	a, err := os.ReadFile(runPackage(t, filepath.Join(work, "a.zip")))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(runPackage(t, filepath.Join(work, "b.zip")))
	if err != nil {
		t.Fatal(err)
	}
	// Terraform names the uploaded object after the archive's hash: equal trees must give equal
	// bytes, or every apply would redeploy all five functions.
	if !bytes.Equal(a, b) {
		t.Fatalf("two runs of scripts/package on the same tree gave different archives (%d and %d bytes)", len(a), len(b))
	}
}

// runPackage runs scripts/package and returns the path it prints as its last stdout line.
func runPackage(t *testing.T, out string) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "package"), out)
	cmd.Dir = t.TempDir() // the script must not depend on the caller's directory
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("scripts/package: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if got := lines[len(lines)-1]; got != out {
		t.Fatalf("scripts/package printed %q as its last line, want the archive path %q", got, out)
	}
	return out
}

func unzip(t *testing.T, archive, dst string) {
	t.Helper()
	r, err := zip.OpenReader(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, f := range r.File {
		path := filepath.Join(dst, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(path, dst+string(filepath.Separator)) {
			t.Fatalf("archive entry %q escapes the source directory", f.Name)
		}
		if f.FileInfo().IsDir() {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		in, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(in)
		in.Close()
		if err != nil {
			t.Fatal(err)
		}
		// The buildpack needs a writable go.mod (it edits it and runs go mod tidy).
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// assertUploadContents checks what scripts/package promises to put in the archive and returns
// the function directories it holds, each with a known FUNCTION_TARGET.
func assertUploadContents(t *testing.T, src string) []string {
	t.Helper()
	for _, f := range []string{"go.mod", "go.sum", "jobhooks.go"} {
		if _, err := os.Stat(filepath.Join(src, f)); err != nil {
			t.Errorf("upload lacks %s", f)
		}
	}
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		switch {
		case d.IsDir() && d.Name() == "testdata":
			t.Errorf("upload contains test data: %s", rel)
		case strings.HasSuffix(d.Name(), "_test.go"):
			t.Errorf("upload contains a test file: %s", rel)
		case !d.IsDir() && rel != "go.mod" && rel != "go.sum" && rel != "jobhooks.go" &&
			!strings.HasPrefix(rel, "functions"+string(filepath.Separator)) && !strings.HasPrefix(rel, "shared"+string(filepath.Separator)):
			t.Errorf("upload contains %s, outside go.mod, go.sum, jobhooks.go, functions/ and shared/", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(src, "functions"))
	if err != nil {
		t.Fatalf("upload has no functions/ directory: %v", err)
	}
	var dirs []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, ok := targets[e.Name()]; !ok {
			t.Fatalf("functions/%s has no FUNCTION_TARGET in this test's targets table: add it", e.Name())
		}
		dirs = append(dirs, e.Name())
	}
	if len(dirs) == 0 {
		t.Fatal("upload holds no function package: nothing would be deployed")
	}
	return dirs
}

// parseRootPackage reads the package clause and imports of every .go file at the source root,
// as the buildpack's converter does (test files included: they too must agree on the name).
func parseRootPackage(t *testing.T, src string) (name string, imports []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(src, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .go file at the root of the upload (%v): the buildpack finds no package to build", err)
	}
	fset := token.NewFileSet()
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("parse %s: %v", file, err)
		}
		if name != "" && f.Name.Name != name {
			t.Fatalf("multiple packages at the root of the upload: %s and %s", name, f.Name.Name)
		}
		name = f.Name.Name
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			imports = append(imports, p)
		}
	}
	return name, imports
}

// assertAnswersHTTP starts the built binary as one function instance and requires an HTTP
// answer (any status) to an empty POST within a few seconds. Functions create their Google Cloud
// clients lazily, so an instance must serve before it can reach any of them.
func assertAnswersHTTP(t *testing.T, bin, target string) {
	t.Helper()
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(),
		"PORT="+strconv.Itoa(port),
		"FUNCTION_TARGET="+target,
		config.EnvGoogleProject+"=test",
		"K_SERVICE="+strings.ToLower(target),
	)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	defer func() {
		cancel()
		<-exited
	}()

	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("FUNCTION_TARGET=%s: the instance exited before answering (%v):\n%s", target, waitErr, output.String())
		default:
		}
		resp, err := client.Post(url, "application/json", http.NoBody)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
			resp.Body.Close()
			t.Logf("FUNCTION_TARGET=%s answered an empty POST with %s: %s", target, resp.Status, strings.TrimSpace(string(body)))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("FUNCTION_TARGET=%s: no HTTP answer on port %d within 10s (%v):\n%s", target, port, err, output.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// goCmd runs the go command in dir with the environment as it is (GOFLAGS, GOPROXY and the
// module cache included: the test forces no network) and returns its stdout.
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, stderr.String())
	}
	return stdout.String()
}
