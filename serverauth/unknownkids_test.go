package serverauth

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// 64 tokens with 1 MiB key IDs, refused and remembered until the next
// fetch, leave the heap as it was: kids are remembered by a fixed-size hash.
// (Kept as strings, they grew it by 63 MiB.)
func TestUnknownKeyIDMemoryBoundedBySize(t *testing.T) {
	k := keys()
	srv := newJWKSServer(t, rsaJWK("good", &k.rsa[0].PublicKey))
	f := newFixture(t, Config{JWKSURLs: []string{srv.url()}, RefreshInterval: -1})

	const n, size = 64, 1 << 20
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	for i := range n {
		kid := fmt.Sprintf("%02d", i) + strings.Repeat("k", size-2)
		_, err := f.get(kid)
		if err == nil {
			t.Fatal("a made-up kid was found")
		}
		if len(err.Error()) > 400 {
			t.Fatalf("error of %d bytes quotes the whole kid", len(err.Error()))
		}
	}
	after := heap()
	f.p.mu.Lock()
	remembered := f.p.missing.len()
	f.p.mu.Unlock()
	if remembered != n {
		t.Fatalf("%d kids remembered, want %d", remembered, n)
	}
	grew := int64(after) - int64(before)
	t.Logf("heap grew by %d KiB for %d remembered 1 MiB kids", grew/1024, n)
	if grew > 4<<20 {
		t.Errorf("heap grew by %d MiB for %d remembered kids of 1 MiB; want them kept by hash", grew>>20, n)
	}
	// Remembered: a kid refused again is not logged again.
	logs := len(f.logged("refetch not allowed yet"))
	if _, err := f.get(fmt.Sprintf("%02d", 5) + strings.Repeat("k", size-2)); err == nil {
		t.Fatal("kid found")
	}
	if got := len(f.logged("refetch not allowed yet")); got != logs {
		t.Errorf("a remembered kid was logged again (%d lines, then %d)", logs, got)
	}
}

// The memory holds at most maxRemembered kids.
func TestKidMemoryCount(t *testing.T) {
	km := newKidMemory()
	for i := range maxRemembered + 10 {
		km.remember(fmt.Sprint(i), time.Time{})
	}
	if km.len() != maxRemembered || !km.has("0") || km.has(fmt.Sprint(maxRemembered)) {
		t.Errorf("len %d, want %d with the first kids kept", km.len(), maxRemembered)
	}
	km.reset()
	if km.len() != 0 || km.has("0") {
		t.Error("reset kept kids")
	}
}
