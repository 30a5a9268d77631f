package metrics

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/temporalauth/temporalauth/headers"
)

// recording is a client.MetricsHandler that keeps every value, keyed by
// name and sorted tags.
type recording struct {
	mu     *sync.Mutex
	tags   map[string]string
	values map[string][]float64
}

func newRecording() *recording {
	return &recording{mu: new(sync.Mutex), tags: map[string]string{}, values: map[string][]float64{}}
}

func (r *recording) WithTags(tags map[string]string) client.MetricsHandler {
	all := maps.Clone(r.tags)
	maps.Copy(all, tags)
	return &recording{mu: r.mu, tags: all, values: r.values}
}

func (r *recording) key(name string) string {
	var b strings.Builder
	b.WriteString(name)
	for _, k := range slices.Sorted(maps.Keys(r.tags)) {
		fmt.Fprintf(&b, " %s=%s", k, r.tags[k])
	}
	return b.String()
}

func (r *recording) add(name string, v float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.key(name)
	r.values[k] = append(r.values[k], v)
}

func (r *recording) Counter(name string) client.MetricsCounter {
	return counterFunc(func(d int64) { r.add(name, float64(d)) })
}
func (r *recording) Gauge(name string) client.MetricsGauge {
	return gaugeFunc(func(v float64) { r.add(name, v) })
}
func (r *recording) Timer(name string) client.MetricsTimer {
	return timerFunc(func(d time.Duration) { r.add(name, d.Seconds()) })
}

type (
	counterFunc func(int64)
	gaugeFunc   func(float64)
	timerFunc   func(time.Duration)
)

func (f counterFunc) Inc(d int64)          { f(d) }
func (f gaugeFunc) Update(v float64)       { f(v) }
func (f timerFunc) Record(d time.Duration) { f(d) }

func (r *recording) get(key string) []float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.values[key])
}

func (r *recording) keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.values))
}

func TestOnRefresh(t *testing.T) {
	h := newRecording()
	r := New(h, "jwt")
	now := time.Now()
	r.OnRefresh(headers.RefreshEvent{Source: "jwtkey", Expiry: now.Add(10 * time.Minute), TimeLeft: 10 * time.Minute, Took: 3 * time.Millisecond})
	r.OnRefresh(headers.RefreshEvent{Source: "jwtkey", Background: true, Err: errors.New("idp down"), TimeLeft: 2 * time.Minute, Took: time.Second, RetryIn: time.Second})
	r.OnRefresh(headers.RefreshEvent{Source: "jwtkey", Background: true, Expiry: now.Add(11 * time.Minute), TimeLeft: 11 * time.Minute, Took: 2 * time.Millisecond})

	want := map[string][]float64{
		"temporal_auth_token_refresh outcome=success source=jwt trigger=blocking":   {1},
		"temporal_auth_token_refresh outcome=failure source=jwt trigger=background": {1},
		"temporal_auth_token_refresh outcome=success source=jwt trigger=background": {1},
		"temporal_auth_token_refresh_failure source=jwt":                            {1},
		"temporal_auth_token_refresh_latency outcome=success source=jwt":            {0.003, 0.002},
		"temporal_auth_token_refresh_latency outcome=failure source=jwt":            {1},
		"temporal_auth_token_time_left_seconds source=jwt":                          {600, 120, 660},
	}
	for k, v := range want {
		if got := h.get(k); !slices.Equal(got, v) {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	if got := h.keys(); len(got) != len(want) {
		t.Errorf("metrics %q, want only %d", got, len(want))
	}

	// Between refreshes, Update makes the gauge fall with the clock.
	r.Update(now.Add(61 * time.Second))
	if got := h.get("temporal_auth_token_time_left_seconds source=jwt"); got[len(got)-1] != 599 {
		t.Errorf("after Update the gauge is %v, want 599", got[len(got)-1])
	}
	r.Update(now.Add(time.Hour))
	if got := h.get("temporal_auth_token_time_left_seconds source=jwt"); got[len(got)-1] != 0 {
		t.Errorf("after expiry the gauge is %v, want 0", got[len(got)-1])
	}
}

func TestUpdateWithoutToken(t *testing.T) {
	h := newRecording()
	r := New(h, "azure")
	r.OnRefresh(headers.RefreshEvent{Err: errors.New("no network")})
	r.Update(time.Now())
	if got := h.get("temporal_auth_token_time_left_seconds source=azure"); !slices.Equal(got, []float64{0, 0}) {
		t.Errorf("gauge %v, want 0 then 0", got)
	}
}

// A token that never expires reads +Inf, so that the README's alert
// (time_left < 60) stays quiet, after a refresh, after a failed one that
// keeps the token, and between them.
func TestUpdateNeverExpires(t *testing.T) {
	h := newRecording()
	r := New(h, "static")
	r.OnRefresh(headers.RefreshEvent{})
	r.Update(time.Now())
	r.OnRefresh(headers.RefreshEvent{Err: errors.New("file unreadable")})
	inf := math.Inf(1)
	if got := h.get("temporal_auth_token_time_left_seconds source=static"); !slices.Equal(got, []float64{inf, inf, inf}) {
		t.Errorf("gauge %v, want +Inf three times", got)
	}
}

// The gauge is updated on each rejection, as the package doc says.
func TestRejectionUpdatesGauge(t *testing.T) {
	h := newRecording()
	r := New(h, "jwt")
	r.OnRefresh(headers.RefreshEvent{Expiry: time.Now().Add(time.Hour), TimeLeft: time.Hour})
	r.intercept(context.Background(), "/m", nil, nil, nil,
		func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			return status.Error(codes.Unauthenticated, "bad")
		})
	if got := h.get("temporal_auth_token_time_left_seconds source=jwt"); len(got) != 2 || got[1] > 3600 || got[1] < 3590 {
		t.Errorf("gauge %v, want the refresh's value and one from the rejection", got)
	}
}

func TestOnRotation(t *testing.T) {
	h := newRecording()
	r := New(h, "jwt")
	for _, ev := range []headers.RotationEvent{
		{Kind: headers.GraceStarted, OldKid: "k1", NewKid: "k2"},
		{Kind: headers.CallSaved},
		{Kind: headers.CallSaved},
		{Kind: headers.CallHeld},
		{Kind: headers.CallHeld, Took: 3 * time.Second, Ended: true},
		{Kind: headers.CallHeld, Took: time.Minute, Err: errors.New("refused"), Ended: true},
		{Kind: headers.GraceEnded, Took: time.Minute},
	} {
		r.OnRotation(ev)
	}
	want := map[string][]float64{
		"temporal_auth_rotation_grace source=jwt":                        {1},
		"temporal_auth_rotation_saved_calls source=jwt":                  {1, 1},
		"temporal_auth_rotation_held_calls outcome=success source=jwt":   {1},
		"temporal_auth_rotation_held_calls outcome=failure source=jwt":   {1},
		"temporal_auth_rotation_hold_latency outcome=success source=jwt": {3},
		"temporal_auth_rotation_hold_latency outcome=failure source=jwt": {60},
	}
	for k, v := range want {
		if got := h.get(k); !slices.Equal(got, v) {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
}

func TestWatch(t *testing.T) {
	h := newRecording()
	r := New(h, "jwt")
	r.OnRefresh(headers.RefreshEvent{Expiry: time.Now().Add(time.Hour), TimeLeft: time.Hour})
	stop := r.Watch(time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for len(h.get("temporal_auth_token_time_left_seconds source=jwt")) < 3 {
		if time.Now().After(deadline) {
			t.Fatal("Watch did not update the gauge")
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	stop() // idempotent
	n := len(h.get("temporal_auth_token_time_left_seconds source=jwt"))
	r.Update(time.Now())
	if got := h.get("temporal_auth_token_time_left_seconds source=jwt"); len(got) != n+1 || got[n] > 3600 || got[n] < 3590 {
		t.Errorf("gauge after stop %v", got[n:])
	}
}

func TestDialOption(t *testing.T) {
	h := newRecording()
	r := New(h, "jwt")
	if r.DialOption() == nil {
		t.Fatal("no dial option")
	}
	for _, err := range []error{
		status.Error(codes.PermissionDenied, "Request unauthorized."),
		status.Error(codes.PermissionDenied, "Request unauthorized."),
		status.Error(codes.Unauthenticated, "bad"),
		status.Error(codes.PermissionDenied, "namespace is not allowed"),
		status.Error(codes.Unavailable, "down"),
		errors.New("plain"),
		nil,
	} {
		got := r.intercept(context.Background(), "/m", nil, nil, nil,
			func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return err })
		if got != err {
			t.Errorf("intercept returned %v, want %v", got, err)
		}
	}
	want := map[string][]float64{
		"temporal_auth_token_rejected source=jwt status_code=PERMISSION_DENIED": {1, 1},
		"temporal_auth_token_rejected source=jwt status_code=UNAUTHENTICATED":   {1},
	}
	for k, v := range want {
		if got := h.get(k); !slices.Equal(got, v) {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	if got := h.keys(); len(got) != len(want)+1 { // and the gauge, updated per rejection
		t.Errorf("metrics %q", got)
	}
}

func TestNilHandler(t *testing.T) {
	r := New(nil, "jwt")
	r.OnRefresh(headers.RefreshEvent{Err: errors.New("x")})
	r.Update(time.Now())
}

// A watched certificate's time left is reported at each Update, 0 once it
// has expired; a source without a certificate reports nothing.
func TestWatchCertificate(t *testing.T) {
	h := newRecording()
	r := New(h, "azure")
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	r.WatchCertificate(func() (time.Time, bool) { return now.Add(30 * 24 * time.Hour), true })
	r.Update(now)
	r.Update(now.Add(31 * 24 * time.Hour))
	if got := h.get("temporal_auth_certificate_time_left_seconds source=azure"); !slices.Equal(got, []float64{30 * 24 * 3600, 0}) {
		t.Errorf("certificate gauge %v, want 30 days then 0", got)
	}

	h = newRecording()
	r = New(h, "azure")
	r.WatchCertificate(func() (time.Time, bool) { return time.Time{}, false })
	r.Update(now)
	if got := h.get("temporal_auth_certificate_time_left_seconds source=azure"); got != nil {
		t.Errorf("a source without a certificate reported %v", got)
	}
}
