package packaging

import (
	"os/exec"
	"strings"
	"testing"
)

// testOnly are packages that serve tests and the local stack; a deployed function must link
// none of them: they would ship a gRPC stand-in of Secret Manager, the testing package and its
// flags, and code no one reviewed as production code.
var testOnly = []string{
	"testing",
	"github.com/jobhooks/jobhooks/shared/devtools/localsecretmanager",
	"github.com/jobhooks/jobhooks/shared/devtools/pipelinetest",
	"github.com/jobhooks/jobhooks/shared/devtools/emulator",
	"github.com/jobhooks/jobhooks/shared/devtools/faults",
	"github.com/jobhooks/jobhooks/shared/devtools/devstack",
	"github.com/jobhooks/jobhooks/shared/devtools/storm",
	"github.com/jobhooks/jobhooks/shared/devtools/bench",
}

func TestDeployedFunctions_LinkNoTestOnlyCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../../../functions/...").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		deps[p] = true
	}
	for _, p := range testOnly {
		if deps[p] {
			t.Errorf("a deployed function links %s (go list -deps ./functions/...)", p)
		}
	}
}
