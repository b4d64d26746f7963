// Command functions serves one Jobhooks function, chosen by FUNCTION_TARGET, on PORT: the binary
// Google's Go buildpack generates for the deployed source (a main that imports every function
// package and calls funcframework.Start). The local stack runs it once per function; for the fault
// storm it also injects store and publish faults when JOBHOOKS_DEV_FAULTS asks (shared/devtools/faults),
// which no deployed binary links.
package main

import (
	"log"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	_ "github.com/jobhooks/jobhooks/functions/api"
	_ "github.com/jobhooks/jobhooks/functions/deadletter"
	_ "github.com/jobhooks/jobhooks/functions/deliver"
	_ "github.com/jobhooks/jobhooks/functions/dispatch"
	_ "github.com/jobhooks/jobhooks/functions/jwks"
	"github.com/jobhooks/jobhooks/shared/devtools/faults"
)

func main() {
	if err := faults.Install(); err != nil {
		log.Fatal(err)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := funcframework.Start(port); err != nil {
		log.Fatalf("funcframework.Start: %v", err)
	}
}
