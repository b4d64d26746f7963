package secrets

import "time"

// SetClock replaces the clock a Keyring uses to age its cache.
func SetClock(k *Keyring, now func() time.Time) { k.now = now }
