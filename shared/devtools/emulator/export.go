package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Export saves the Firestore emulator's data of googleProject's (default) database into its
// DataDir, through the emulator's export endpoint, and then removes the older exports there:
// the newest is what the next Start imports. The older exports stay until this one is written,
// so a failed export loses nothing that was saved before.
func (e *Emulator) Export(ctx context.Context, googleProject string) error {
	if e.Kind != Firestore || e.dataDir == "" {
		return fmt.Errorf("emulator: only a Firestore emulator with a DataDir exports")
	}
	if err := os.MkdirAll(e.dataDir, 0o700); err != nil { // the endpoint refuses a missing directory
		return err
	}
	body, _ := json.Marshal(map[string]string{
		"database":         "projects/" + googleProject + "/databases/(default)",
		"export_directory": e.dataDir,
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+e.Host+"/emulator/v1/projects/"+googleProject+":export", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("emulator: export: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("emulator: export answered %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	newest := newestExport(e.dataDir)
	if newest == "" {
		return errors.New("emulator: export wrote no metadata file in " + e.dataDir)
	}
	keep := filepath.Dir(newest)
	entries, err := os.ReadDir(e.dataDir)
	if err != nil {
		return err
	}
	for _, ent := range entries {
		if p := filepath.Join(e.dataDir, ent.Name()); p != keep && strings.HasPrefix(ent.Name(), "firestore_export") {
			_ = os.RemoveAll(p)
		}
	}
	return nil
}

// newestExport is the metadata file of the newest export under dir (what --import-data takes),
// or "" when there is none. Each export is a directory firestore_export_<time> holding
// firestore_export_<time>.overall_export_metadata.
func newestExport(dir string) string {
	if dir == "" {
		return ""
	}
	metas, _ := filepath.Glob(filepath.Join(dir, "*", "*.overall_export_metadata"))
	var newest string
	var newestTime int64
	for _, m := range slices.Sorted(slices.Values(metas)) {
		if fi, err := os.Stat(m); err == nil && fi.ModTime().UnixNano() >= newestTime {
			newest, newestTime = m, fi.ModTime().UnixNano()
		}
	}
	return newest
}
