package serverauth

import (
	"crypto/sha256"
	"time"
)

// kidMemory remembers the key IDs that the last fetch did not find, so that
// a kid refused once is not logged again in the same window. Key IDs come
// from unverified tokens and may be of any size (a token of a few MiB is
// still parsed), so it keeps a SHA-256 of each: at most maxRemembered
// entries of a fixed size, whatever the kids are.
type kidMemory struct {
	m map[[sha256.Size]byte]time.Time
}

func newKidMemory() kidMemory {
	return kidMemory{m: map[[sha256.Size]byte]time.Time{}}
}

// remember records kid as asked for at now, unless it is known or the
// memory is full.
func (km *kidMemory) remember(kid string, now time.Time) {
	h := sha256.Sum256([]byte(kid))
	if _, ok := km.m[h]; !ok && len(km.m) < maxRemembered {
		km.m[h] = now
	}
}

// has reports whether kid is remembered.
func (km *kidMemory) has(kid string) bool {
	_, ok := km.m[sha256.Sum256([]byte(kid))]
	return ok
}

// len is how many key IDs are remembered.
func (km *kidMemory) len() int { return len(km.m) }

// reset forgets every key ID: a fetch has just looked for them.
func (km *kidMemory) reset() { km.m = map[[sha256.Size]byte]time.Time{} }
