package static_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/headers/clocktest"
	"github.com/temporalauth/temporalauth/static"
)

// swappable is a HeadersProvider whose map or error a test sets.
type swappable struct {
	h     atomic.Pointer[map[string]string]
	err   atomic.Pointer[error]
	calls atomic.Int64
}

func newSwappable(h map[string]string) *swappable {
	s := &swappable{}
	s.set(h)
	return s
}

func (s *swappable) set(h map[string]string) { s.h.Store(&h) }

func (s *swappable) fail(err error) { s.err.Store(&err) }

func (s *swappable) GetHeaders(context.Context) (map[string]string, error) {
	s.calls.Add(1)
	if err := s.err.Load(); err != nil {
		return nil, *err
	}
	return *s.h.Load(), nil
}

func mustHeaders(t testing.TB, h map[string]string) static.HeadersProvider {
	t.Helper()
	hp, err := static.Headers(h)
	if err != nil {
		t.Fatal(err)
	}
	return hp
}

func samePointer(a, b map[string]string) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

func TestMergeLaterWins(t *testing.T) {
	first := mustHeaders(t, map[string]string{"authorization": "Bearer configured", "x-tenant": "acme"})
	second := newSwappable(map[string]string{"Authorization": "Bearer fresh", "x-trace": "1"})
	got, err := static.Merge(first, nil, second).GetHeaders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"authorization": "Bearer fresh", "x-tenant": "acme", "x-trace": "1"}
	if !maps.Equal(got, want) {
		t.Errorf("merged = %q, want %q", got, want)
	}
}

func TestMergeLowercaseKeyWinsWithinOneProvider(t *testing.T) {
	part := newSwappable(map[string]string{"X-Key": "mixed", "x-key": "lower"})
	for range 20 { // map order varies: repeat on fresh merges
		got, err := static.Merge(part).GetHeaders(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"x-key": "lower"}; !maps.Equal(got, want) {
			t.Fatalf("merged = %q, want %q", got, want)
		}
	}
}

func TestMergeNothing(t *testing.T) {
	for _, m := range []static.HeadersProvider{static.Merge(), static.Merge(nil, nil)} {
		got, err := m.GetHeaders(context.Background())
		if err != nil || len(got) != 0 || got == nil {
			t.Errorf("GetHeaders = %v, %v; want an empty map", got, err)
		}
	}
}

func TestMergeReusesResult(t *testing.T) {
	ctx := context.Background()
	fixed := mustHeaders(t, map[string]string{"x-tenant": "acme"})
	tokens := newSwappable(map[string]string{"authorization": "Bearer one"})
	m := static.Merge(fixed, tokens)
	a, _ := m.GetHeaders(ctx)
	b, _ := m.GetHeaders(ctx)
	if !samePointer(a, b) {
		t.Error("unchanged parts gave a new merged map")
	}

	tokens.set(map[string]string{"authorization": "Bearer two"})
	c, err := m.GetHeaders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if samePointer(a, c) || c["authorization"] != "Bearer two" || c["x-tenant"] != "acme" {
		t.Errorf("after a part changed, merged = %q", c)
	}
	if a["authorization"] != "Bearer one" {
		t.Error("an earlier merged map was modified")
	}
	d, _ := m.GetHeaders(ctx)
	if !samePointer(c, d) {
		t.Error("the new result is not reused")
	}
}

func TestMergeTreatsEmptyMapsAlike(t *testing.T) {
	ctx := context.Background()
	empty := newSwappable(map[string]string{})
	m := static.Merge(mustHeaders(t, map[string]string{"x-a": "1"}), empty)
	a, _ := m.GetHeaders(ctx)
	empty.set(map[string]string{})
	b, _ := m.GetHeaders(ctx)
	empty.set(nil)
	c, _ := m.GetHeaders(ctx)
	if !samePointer(a, b) || !samePointer(a, c) {
		t.Error("a fresh empty map caused a new merge")
	}
}

func TestMergeWrapsErrors(t *testing.T) {
	ctx := context.Background()
	cause := errors.New("identity provider unavailable")
	failing := newSwappable(nil)
	failing.fail(cause)
	after := newSwappable(map[string]string{"x": "y"})
	m := static.Merge(mustHeaders(t, nil), failing, after)
	got, err := m.GetHeaders(ctx)
	if got != nil || !errors.Is(err, cause) {
		t.Fatalf("GetHeaders = %v, %v; want the wrapped cause", got, err)
	}
	for _, want := range []string{"provider 2 of 3", "*static_test.swappable", cause.Error()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if after.calls.Load() != 0 {
		t.Error("providers after the failing one were called")
	}

	var target *myError
	failing.fail(fmt.Errorf("wrapped: %w", &myError{}))
	if _, err := m.GetHeaders(ctx); !errors.As(err, &target) {
		t.Errorf("errors.As does not see through %v", err)
	}
}

type myError struct{}

func (*myError) Error() string { return "my error" }

func TestMergeRepeatDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	m := static.Merge(
		mustHeaders(t, map[string]string{"x-tenant": "acme", "x-route": "eu"}),
		newSwappable(map[string]string{"authorization": "Bearer token"}),
		newSwappable(nil),
	)
	if _, err := m.GetHeaders(ctx); err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = m.GetHeaders(ctx) }); allocs != 0 {
		t.Errorf("repeat GetHeaders allocates %v times, want 0", allocs)
	}
}

func TestMergeConcurrent(t *testing.T) {
	ctx := context.Background()
	tokens := newSwappable(map[string]string{"authorization": "Bearer 0"})
	m := static.Merge(mustHeaders(t, map[string]string{"x-tenant": "acme"}), tokens)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if g == 0 && i%20 == 0 {
					tokens.set(map[string]string{"authorization": fmt.Sprintf("Bearer %d", i)})
				}
				h, err := m.GetHeaders(ctx)
				if err != nil || h["x-tenant"] != "acme" || !strings.HasPrefix(h["authorization"], "Bearer ") {
					t.Errorf("GetHeaders = %v, %v", h, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	h, _ := m.GetHeaders(ctx)
	if h["authorization"] != "Bearer 180" {
		t.Errorf("final authorization = %q, want the last one set", h["authorization"])
	}
}

// TestMergeWithEnvconfig merges a token provider with the headers
// go.temporal.io/sdk/contrib/envconfig builds from grpc_meta settings.
func TestMergeWithEnvconfig(t *testing.T) {
	profile := envconfig.ClientConfigProfile{
		Address:  "127.0.0.1:7233",
		GRPCMeta: map[string]string{"x-tenant": "acme", "authorization": "Bearer configured"},
	}
	opts, err := profile.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if opts.HeadersProvider == nil {
		t.Fatal("envconfig set no HeadersProvider")
	}
	clock := clocktest.New()
	jwt := jwtExpiring(t0.Add(time.Hour))
	tokens, err := static.NewProvider(static.Config{Token: jwt}, headers.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer tokens.Close()
	opts.HeadersProvider = static.Merge(opts.HeadersProvider, tokens)

	ctx := context.Background()
	got, err := opts.HeadersProvider.GetHeaders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got["x-tenant"] != "acme" || got["authorization"] != "Bearer "+jwt || len(got) != 2 {
		t.Errorf("merged headers have keys %v; want x-tenant and the token's authorization", slices.Sorted(maps.Keys(got)))
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = opts.HeadersProvider.GetHeaders(ctx) }); allocs != 0 {
		t.Errorf("repeat GetHeaders through envconfig's provider allocates %v times, want 0", allocs)
	}
}

func TestMergeRedacts(t *testing.T) {
	ctx := context.Background()
	m := static.Merge(newSwappable(map[string]string{"authorization": "Bearer secret-token"}))
	if _, err := m.GetHeaders(ctx); err != nil {
		t.Fatal(err)
	}
	holder := struct{ m static.HeadersProvider }{m}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		assertNoSecret(t, format, fmt.Sprintf(format, m), "secret-token")
		assertNoSecret(t, format+" of holder", fmt.Sprintf(format, holder), "secret-token")
	}
	if got := fmt.Sprint(m); got != "static.Merge(1 header providers)" {
		t.Errorf("String = %q", got)
	}
}

func BenchmarkMerge(b *testing.B) {
	ctx := context.Background()
	m := static.Merge(
		mustHeaders(b, map[string]string{"x-tenant": "acme", "x-route": "eu"}),
		newSwappable(map[string]string{"authorization": "Bearer token"}),
	)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.GetHeaders(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
