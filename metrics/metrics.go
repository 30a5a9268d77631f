// Package metrics reports a headers.Provider's token refreshes and the
// server's rejections of its tokens through go.temporal.io/sdk's
// client.MetricsHandler, the pipeline Temporal workers already export
// (Prometheus through go.temporal.io/sdk/contrib/tally, OpenTelemetry
// through go.temporal.io/sdk/contrib/opentelemetry).
//
// Set Recorder.OnRefresh as headers.Options.OnRefresh and add
// Recorder.DialOption to client.Options.ConnectionOptions.DialOptions:
//
//	rec := metrics.New(handler, "worker-key")
//	p, err := jwtkey.NewProvider(cfg, headers.Options{OnRefresh: rec.OnRefresh})
//	...
//	opts.ConnectionOptions.DialOptions = append(opts.ConnectionOptions.DialOptions,
//		p.RetryUnauthorized(), rec.DialOption())
//	opts.MetricsHandler = handler
//
// The names follow the SDK's: the temporal_ prefix, snake case, a counter
// of all attempts next to a _failure counter, a _latency timer:
//
//	temporal_auth_token_refresh            counter  source, outcome (success|failure), trigger (background|blocking)
//	temporal_auth_token_refresh_failure    counter  source
//	temporal_auth_token_refresh_latency    timer    source, outcome
//	temporal_auth_token_time_left_seconds  gauge    source
//	temporal_auth_token_rejected           counter  source, status_code (PERMISSION_DENIED|UNAUTHENTICATED)
//	temporal_auth_rotation_grace           counter  source
//	temporal_auth_rotation_saved_calls     counter  source
//	temporal_auth_rotation_held_calls      counter  source, outcome (success|failure)
//	temporal_auth_rotation_hold_latency    timer    source, outcome
//	temporal_auth_certificate_time_left_seconds  gauge  source
//
// The gauge is set after each refresh (after a failure, to the time left on
// the token still served, 0 if none) and on each rejection the DialOption
// sees; Watch keeps it current between them. For a token that never
// expires (an opaque API key) it is +Inf, so that an alert on a small
// value (time_left < 60) never fires for it. The rotation metrics come
// from Recorder.OnRotation (headers.Options.OnRotation): graces started,
// calls saved by the previously accepted token, and calls held while the
// server had not fetched a new key, with how long each waited. The
// certificate gauge reports a client certificate's time left, for a source
// that has one (Recorder.WatchCertificate). No metric carries a token or
// any part of one.
package metrics

import (
	"context"
	"math"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"

	"github.com/temporalauth/temporalauth/headers"
)

// Metric names.
const (
	Refresh        = "temporal_auth_token_refresh"
	RefreshFailure = "temporal_auth_token_refresh_failure"
	RefreshLatency = "temporal_auth_token_refresh_latency"
	TimeLeft       = "temporal_auth_token_time_left_seconds"
	Rejected       = "temporal_auth_token_rejected"
	RotationGrace  = "temporal_auth_rotation_grace"
	SavedCalls     = "temporal_auth_rotation_saved_calls"
	HeldCalls      = "temporal_auth_rotation_held_calls"
	HoldLatency    = "temporal_auth_rotation_hold_latency"
	// CertificateTimeLeft is the seconds until the client certificate that
	// authenticates the source to its identity provider expires (see
	// Recorder.WatchCertificate); 0 once it has.
	CertificateTimeLeft = "temporal_auth_certificate_time_left_seconds"
)

// Tag keys and values.
const (
	SourceTag     = "source"
	OutcomeTag    = "outcome"
	TriggerTag    = "trigger"
	StatusCodeTag = "status_code"

	OutcomeSuccess    = "success"
	OutcomeFailure    = "failure"
	TriggerBackground = "background"
	TriggerBlocking   = "blocking"
)

// A Recorder turns refresh events and rejections into metrics. It is safe
// for concurrent use.
type Recorder struct {
	h      client.MetricsHandler
	source string

	mu       sync.Mutex
	timeLeft client.MetricsGauge
	expiry   time.Time // of the token last reported; zero: none or never expires
	hasToken bool
	certLeft client.MetricsGauge      // set by WatchCertificate
	notAfter func() (time.Time, bool) // set by WatchCertificate
}

// New returns a Recorder that reports to h with the tag source=source
// (say the provider's kind, "jwt" or "azure"; not a secret). A nil h
// means client.MetricsNopHandler.
func New(h client.MetricsHandler, source string) *Recorder {
	if h == nil {
		h = client.MetricsNopHandler
	}
	h = h.WithTags(map[string]string{SourceTag: source})
	return &Recorder{h: h, source: source, timeLeft: h.Gauge(TimeLeft)}
}

// OnRefresh records one call to the token source. Use it as
// headers.Options.OnRefresh, or call it from yours.
func (r *Recorder) OnRefresh(ev headers.RefreshEvent) {
	outcome, trigger := OutcomeSuccess, TriggerBlocking
	if ev.Err != nil {
		outcome = OutcomeFailure
	}
	if ev.Background {
		trigger = TriggerBackground
	}
	r.h.WithTags(map[string]string{OutcomeTag: outcome, TriggerTag: trigger}).Counter(Refresh).Inc(1)
	r.h.WithTags(map[string]string{OutcomeTag: outcome}).Timer(RefreshLatency).Record(ev.Took)
	if ev.Err != nil {
		r.h.Counter(RefreshFailure).Inc(1)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case ev.Err == nil:
		r.expiry, r.hasToken = ev.Expiry, true
	case ev.TimeLeft <= 0 && !(r.hasToken && r.expiry.IsZero()):
		r.expiry, r.hasToken = time.Time{}, false
	}
	if r.hasToken && r.expiry.IsZero() {
		r.timeLeft.Update(math.Inf(1))
		return
	}
	r.timeLeft.Update(ev.TimeLeft.Seconds())
}

// OnRotation records a step of a key rotation. Use it as
// headers.Options.OnRotation, or call it from yours.
func (r *Recorder) OnRotation(ev headers.RotationEvent) {
	switch ev.Kind {
	case headers.GraceStarted:
		r.h.Counter(RotationGrace).Inc(1)
	case headers.CallSaved:
		r.h.Counter(SavedCalls).Inc(1)
	case headers.CallHeld:
		if !ev.Ended {
			return // the hold begins; it is counted when it ends
		}
		outcome := OutcomeSuccess
		if ev.Err != nil {
			outcome = OutcomeFailure
		}
		h := r.h.WithTags(map[string]string{OutcomeTag: outcome})
		h.Counter(HeldCalls).Inc(1)
		h.Timer(HoldLatency).Record(ev.Took)
	}
}

// WatchCertificate makes Update also set the CertificateTimeLeft gauge
// from notAfter, which reports when the certificate that authenticates the
// source to its identity provider expires, and false for a source without
// one: azure.Source.CertificateNotAfter. Load calls it for a source that
// has that method. A certificate that expires stops every renewal, so
// alert well ahead, e.g. on less than 14 days.
func (r *Recorder) WatchCertificate(notAfter func() (time.Time, bool)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notAfter = notAfter
	r.certLeft = r.h.Gauge(CertificateTimeLeft)
}

// Update sets the time-left gauge from now: the seconds until the last
// reported token expires, 0 once it has (or when none was ever fetched),
// +Inf for a token that never expires; and the CertificateTimeLeft gauge
// of a watched certificate.
func (r *Recorder) Update(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.notAfter != nil {
		if t, ok := r.notAfter(); ok {
			r.certLeft.Update(max(0, t.Sub(now).Seconds()))
		}
	}
	if r.hasToken && r.expiry.IsZero() {
		r.timeLeft.Update(math.Inf(1))
		return
	}
	r.timeLeft.Update(max(0, r.expiry.Sub(now).Seconds()))
}

// Watch calls Update every interval until the returned stop function is
// called, so that the gauge falls between refreshes as the token ages.
func (r *Recorder) Watch(interval time.Duration) (stop func()) {
	t := time.NewTicker(interval)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case now := <-t.C:
				r.Update(now)
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			t.Stop()
			close(done)
			wg.Wait()
		})
	}
}

// DialOption returns a dial option for client.Options.ConnectionOptions.
// DialOptions that counts the calls the server refuses for their
// credentials (see headers.Rejection) (which the server also answers for a valid token that
// lacks the permission). Placed after the provider's RetryUnauthorized, it
// counts each refused attempt, the retried ones included.
func (r *Recorder) DialOption() grpc.DialOption {
	return grpc.WithChainUnaryInterceptor(r.intercept)
}

func (r *Recorder) intercept(ctx context.Context, method string, req, reply any,
	cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if code, ok := headers.Rejection(err); ok {
		r.h.WithTags(map[string]string{StatusCodeTag: code}).Counter(Rejected).Inc(1)
		r.Update(time.Now())
	}
	return err
}
