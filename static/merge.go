package static

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
)

// Merge returns a HeadersProvider that calls each of providers in order and
// merges their headers into one map. Keys are lowercased, and when two
// providers set the same key the later one wins: put the providers whose
// headers should take precedence last, typically a token provider after
// the fixed headers loaded by go.temporal.io/sdk/contrib/envconfig, so that
// its authorization header replaces any configured one. Nil providers are
// skipped, which allows passing a client.Options.HeadersProvider that may be
// unset. An error from any provider is returned wrapped, naming its position
// and type; errors.Is and errors.As see through it.
//
// Merging is cheap on the hot path: when every provider returns the same map
// as on the previous call (as [Headers] always does, and a
// [headers.Provider] does while its token is unchanged), Merge returns the
// previously merged map without allocating. A provider must therefore
// return a new map, never modify one it has returned, when its headers
// change. Maps returned by Merge are likewise shared and read-only.
func Merge(providers ...HeadersProvider) HeadersProvider {
	m := &merged{}
	for _, p := range providers {
		if p != nil {
			m.parts = append(m.parts, p)
		}
	}
	m.last.Store(&mergeState{inputs: make([]map[string]string, len(m.parts)), out: map[string]string{}})
	return m
}

// merged is the provider Merge returns.
type merged struct {
	parts []HeadersProvider
	last  atomic.Pointer[mergeState]
}

// mergeState is one merge result and the maps it was built from. Holding
// the input maps keeps them alive, so their addresses cannot be reused by
// other maps while they serve as cache keys.
type mergeState struct {
	inputs []map[string]string
	out    map[string]string
}

// GetHeaders calls every provider and returns the merged headers, reusing
// the previous result when no provider's map changed.
func (m *merged) GetHeaders(ctx context.Context) (map[string]string, error) {
	last := m.last.Load()
	var inputs []map[string]string // allocated at the first changed map
	for i, p := range m.parts {
		h, err := p.GetHeaders(ctx)
		if err != nil {
			return nil, fmt.Errorf("static: merging headers: provider %d of %d (%T): %w", i+1, len(m.parts), p, err)
		}
		if inputs == nil {
			if sameMap(h, last.inputs[i]) {
				continue
			}
			inputs = make([]map[string]string, len(m.parts))
			copy(inputs, last.inputs[:i])
		}
		inputs[i] = h
	}
	if inputs == nil {
		return last.out, nil
	}
	next := &mergeState{inputs: inputs, out: mergeMaps(inputs)}
	m.last.Store(next)
	return next.out, nil
}

// sameMap reports whether a and b are the same map instance, or both empty.
func sameMap(a, b map[string]string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// mergeMaps merges maps into a new one with lowercased keys; later maps win.
// Within one map, a lowercase key wins over the same key in other case.
func mergeMaps(maps []map[string]string) map[string]string {
	n := 0
	for _, h := range maps {
		n += len(h)
	}
	out := make(map[string]string, n)
	for _, h := range maps {
		for k, v := range h {
			lower := strings.ToLower(k)
			if lower != k {
				if _, exact := h[lower]; exact {
					continue
				}
			}
			out[lower] = v
		}
	}
	return out
}

// String describes m without its headers.
func (m *merged) String() string {
	return fmt.Sprintf("static.Merge(%d header providers)", len(m.parts))
}

// GoString describes m without its headers, for %#v.
func (m *merged) GoString() string { return m.String() }
