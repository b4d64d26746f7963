// Package packaging holds the buildpack check and nothing else: its test runs scripts/package,
// builds the archive exactly as Google's Go buildpack builds a Cloud Run function (a generated
// main that imports the root package of the upload and calls funcframework.Start), and starts
// the binary once per FUNCTION_TARGET to see each entry point answer HTTP.
//
// It exists because the two buildpack rules that break a deploy cannot be seen in the repository:
// the module path needs a dot in its first element, and the root package must neither share its
// name with a top-level directory nor fail to register its functions in init().
package packaging
