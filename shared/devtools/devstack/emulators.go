package devstack

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/jobhooks/jobhooks/shared/devtools/emulator"
)

// startEmulators starts the Pub/Sub and Firestore emulators on DIR's state and appends their
// stops to stops. Firestore's stop saves its data first (an export into DIR/firestore, imported
// at the next start); gcloud's Pub/Sub emulator keeps no topics or messages between runs, so
// its stop is a kill: the topics are created again at every start, and a retry still queued
// when the stack stops is not sent after the restart (its record stays pending).
func startEmulators(ctx context.Context, dir string, say func(string, ...any), stops *[]func()) (map[emulator.Kind]*emulator.Emulator, error) {
	emus := map[emulator.Kind]*emulator.Emulator{}
	for _, k := range []emulator.Kind{emulator.PubSub, emulator.Firestore} {
		logf, err := os.OpenFile(filepath.Join(dir, "logs", string(k)+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, err
		}
		e, err := emulator.Start(ctx, k, emulator.Options{Log: logf, DataDir: absolute(filepath.Join(dir, string(k)))})
		if err != nil {
			logf.Close()
			return nil, err
		}
		emus[k] = e
		stop := e.Kill
		if k == emulator.Firestore {
			stop = func() { saveFirestore(e, say); e.Kill() }
		}
		*stops = append(*stops, func() { stop(); logf.Close() })
	}
	return emus, nil
}

// saveFirestore exports the database into DIR/firestore; the functions have stopped, so nothing
// is written after it.
func saveFirestore(e *emulator.Emulator, say func(string, ...any)) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Export(ctx, GoogleProject); err != nil {
		say("Firestore's data was not saved (the next start begins from the previous save): %v", err)
	}
}
