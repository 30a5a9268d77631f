package serverauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/clock"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.temporal.io/server/common/metrics"
)

// Defaults for the zero values of Config.
const (
	// DefaultRefreshInterval is how often every source is fetched when
	// Config.RefreshInterval is zero: hourly, as Microsoft advises for
	// Entra ID. Unknown key IDs trigger refetches in between.
	DefaultRefreshInterval = time.Hour
	// DefaultMinRefetchInterval is the least time between two refetches
	// triggered by unknown key IDs when Config.MinRefetchInterval is zero.
	DefaultMinRefetchInterval = time.Minute
	// DefaultFetchTimeout bounds one fetch of all sources (for an issuer:
	// its discovery document and its JWKS) when Config.FetchTimeout is zero.
	DefaultFetchTimeout = 10 * time.Second
	// DefaultMaxResponseBytes is the largest JWKS or discovery document read
	// when Config.MaxResponseBytes is zero: 1 MiB (Entra ID's is about 10 KiB).
	DefaultMaxResponseBytes = 1 << 20
)

const (
	// maxRemembered bounds the key IDs remembered as missing between two
	// fetches, so a flood of random key IDs cannot grow memory without end.
	maxRemembered = 10_000
	// maxLoggedPerWindow is how many rate-limited refusals are logged one by
	// one between two fetches; the rest are counted in one line.
	maxLoggedPerWindow = 5
	// maxKidInLogs truncates key IDs, which come from unverified tokens.
	maxKidInLogs = 100
)

// Config says where a KeyProvider finds keys and how often it refetches
// them. Zero values take the documented defaults.
type Config struct {
	// JWKSURLs are JSON Web Key Set locations: https:// URLs, http:// URLs
	// of loopback hosts only, or file:// URLs with absolute paths. Blank
	// entries are ignored.
	JWKSURLs []string
	// Issuers are OpenID Connect issuers, e.g.
	// "https://login.microsoftonline.com/<tenant>/v2.0". Each fetch reads
	// <issuer>/.well-known/openid-configuration, refuses it unless its
	// "issuer" is the configured one (a trailing slash aside), then reads
	// the JWKS at its "jwks_uri" (https://, or http:// to a loopback host).
	Issuers []string
	// RefreshInterval is how long after a fetch all sources are fetched
	// again (default DefaultRefreshInterval, one hour). Negative disables
	// the periodic fetch; unknown key IDs still trigger refetches.
	RefreshInterval time.Duration
	// MinRefetchInterval is the least time between two refetches triggered
	// by unknown key IDs (default DefaultMinRefetchInterval, one minute).
	// The first fetch and periodic fetches do not count against it. A token
	// whose key ID is unknown while refetching is not allowed is refused at
	// once, and one refetch is scheduled for the moment it is allowed again.
	MinRefetchInterval time.Duration
	// FetchTimeout bounds one fetch of all sources (default
	// DefaultFetchTimeout, ten seconds). A token with an unknown key ID
	// waits at most this long for the refetch.
	FetchTimeout time.Duration
	// MaxResponseBytes is the largest JWKS, discovery document or key file
	// read (default DefaultMaxResponseBytes, 1 MiB); a larger one fails the
	// fetch of that source.
	MaxResponseBytes int64
	// HTTPClient fetches https:// and http:// sources. Default: a client
	// with its own copy of http.DefaultTransport (proxies from the
	// environment). The provider uses a copy of it whose redirects are
	// checked like configured URLs.
	HTTPClient *http.Client
	// Logger receives what the provider does (default: nothing is logged).
	// Pass the server's logger.
	Logger log.Logger
	// MetricsHandler, when set, receives the counters listed in the package
	// documentation. Pass the handler given to temporal.WithCustomMetricsHandler
	// to export them with the server's own metrics.
	MetricsHandler metrics.Handler
	// TimeSource is the clock that schedules fetches and enforces
	// MinRefetchInterval (default: the real clock). Tests pass a
	// *clock.EventTimeSource. HTTP timeouts use the real clock regardless.
	TimeSource clock.TimeSource
}

// KeyProvider serves the Temporal server's JWT claim mapper the RS256 and
// ES256 keys published by its sources, and fetches them again when a token
// names a key ID it does not hold. It implements
// authorization.TokenKeyProvider and authorization.RawTokenKeyProvider, so
// the claim mapper built by authorization.NewDefaultJWTClaimMapper calls
// GetKey with each parsed token.
//
// Create it with NewKeyProvider and release it with Close. It is safe for
// concurrent use.
type KeyProvider struct {
	refresh    time.Duration // <= 0: no periodic fetch
	minRefetch time.Duration
	timeout    time.Duration
	sources    []*source
	fetcher    *fetcher
	logger     log.Logger
	metrics    metrics.Handler // nil: none
	ts         clock.TimeSource

	ctx       context.Context // cancelled by Close
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	wake      chan struct{} // a round was requested
	periodicC chan struct{} // the periodic timer fired
	deferredC chan struct{} // the delayed refetch is due
	closeOnce sync.Once

	mu          sync.Mutex
	closed      bool
	keys        map[string]publicKey // every source's last good keys
	missing     map[string]time.Time // key IDs the last fetch lacked, when asked for
	round       *round               // requested or running; nil when idle
	lastRound   time.Time            // when the last fetch ended
	lastRefetch time.Time            // when the last on-demand refetch began; zero: never
	periodic    clock.Timer
	deferred    clock.Timer
	deferredAt  time.Time // when the delayed refetch is due; zero: none pending
	logged      int       // rate-limited refusals logged since the last fetch
	quiet       int       // rate-limited refusals not logged since the last fetch
	stats       Stats     // counters; Keys, LastFetch and Sources are filled in by Stats
}

// round is one fetch of every source.
type round struct {
	done   chan struct{} // closed when the keys are updated
	reason string
	kid    string // the unknown key ID that triggered it, if one did
}

// Stats are a KeyProvider's counters since it was created.
type Stats struct {
	// Fetches counts completed fetches of all sources: the first one,
	// periodic ones and refetches.
	Fetches int64
	// Refetches counts fetches triggered by unknown key IDs (at once, or
	// delayed by the rate limit).
	Refetches int64
	// UnknownKeyIDs counts lookups of key IDs the provider did not hold.
	UnknownKeyIDs int64
	// FoundAfterRefetch counts unknown key IDs that a fetch then found.
	FoundAfterRefetch int64
	// NotFoundAfterRefetch counts unknown key IDs that the fetch they waited
	// for did not find.
	NotFoundAfterRefetch int64
	// RateLimited counts unknown key IDs refused at once because a refetch
	// was not allowed yet (MinRefetchInterval).
	RateLimited int64
	// Keys is how many keys the provider holds now.
	Keys int
	// LastFetch is when the last fetch ended (zero before the first).
	LastFetch time.Time
	// Sources describes each source, in configuration order.
	Sources []SourceStats
}

// SourceStats describe one key source.
type SourceStats struct {
	// Source is the URL, without user info, query or fragment.
	Source string
	// Keys is how many keys the source's last successful fetch gave.
	Keys int
	// Fetches and Failures count the attempts to read the source.
	Fetches, Failures int64
	// LastSuccess is when the source last answered with a key set.
	LastSuccess time.Time
	// LastError is why the last attempt failed; empty after a success.
	LastError string
}

var (
	_ authorization.TokenKeyProvider    = (*KeyProvider)(nil)
	_ authorization.RawTokenKeyProvider = (*KeyProvider)(nil)
)

// NewKeyProvider checks cfg, fetches every source once (waiting at most
// cfg.FetchTimeout) and starts the periodic refresh. A source that fails
// this first fetch is only logged: an unknown key ID, or the next periodic
// refresh, fetches it again. Errors name the Config field at fault.
func NewKeyProvider(cfg Config) (*KeyProvider, error) {
	var sources []*source
	for i, raw := range cfg.JWKSURLs {
		if strings.TrimSpace(raw) == "" {
			continue
		}
		s, err := newJWKSSource(fmt.Sprintf("Config.JWKSURLs[%d]", i), raw)
		if err != nil {
			return nil, fmt.Errorf("serverauth: %w", err)
		}
		sources = append(sources, s)
	}
	for i, raw := range cfg.Issuers {
		if strings.TrimSpace(raw) == "" {
			continue
		}
		s, err := newIssuerSource(fmt.Sprintf("Config.Issuers[%d]", i), raw)
		if err != nil {
			return nil, fmt.Errorf("serverauth: %w", err)
		}
		sources = append(sources, s)
	}
	if len(sources) == 0 {
		return nil, errors.New("serverauth: no key source: set Config.JWKSURLs or Config.Issuers")
	}
	refresh := cfg.RefreshInterval
	if refresh == 0 {
		refresh = DefaultRefreshInterval
	}
	minRefetch, err := positiveOr(cfg.MinRefetchInterval, DefaultMinRefetchInterval, "Config.MinRefetchInterval")
	if err != nil {
		return nil, err
	}
	timeout, err := positiveOr(cfg.FetchTimeout, DefaultFetchTimeout, "Config.FetchTimeout")
	if err != nil {
		return nil, err
	}
	maxBytes, err := positiveOr(cfg.MaxResponseBytes, DefaultMaxResponseBytes, "Config.MaxResponseBytes")
	if err != nil {
		return nil, err
	}
	p := &KeyProvider{
		refresh:    refresh,
		minRefetch: minRefetch,
		timeout:    timeout,
		sources:    sources,
		fetcher:    &fetcher{client: newHTTPClient(cfg.HTTPClient), maxBytes: maxBytes},
		logger:     cfg.Logger,
		metrics:    cfg.MetricsHandler,
		ts:         cfg.TimeSource,
		wake:       make(chan struct{}, 1),
		periodicC:  make(chan struct{}, 1),
		deferredC:  make(chan struct{}, 1),
		keys:       map[string]publicKey{},
		missing:    map[string]time.Time{},
	}
	if p.logger == nil {
		p.logger = log.NewNoopLogger()
	}
	if p.ts == nil {
		p.ts = clock.NewRealTimeSource()
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.mu.Lock()
	first := p.requestRoundLocked("first fetch", "")
	p.mu.Unlock()
	p.wg.Add(1)
	go p.loop()
	<-first.done
	return p, nil
}

func positiveOr[T int64 | time.Duration](v, def T, setting string) (T, error) {
	switch {
	case v == 0:
		return def, nil
	case v < 0:
		return 0, fmt.Errorf("serverauth: %s is negative (%v); leave it zero for the default %v", setting, v, def)
	}
	return v, nil
}

// GetKey returns the key that verifies token: the key with the token's kid,
// if it suits the token's algorithm (RS256: an RSA key, ES256: a P-256 key).
// When no source published the kid at the last fetch, GetKey refetches the
// sources and waits for them, unless a refetch happened less than
// MinRefetchInterval ago; concurrent callers share one refetch.
func (p *KeyProvider) GetKey(ctx context.Context, token *jwt.Token) (any, error) {
	if token == nil {
		return nil, errors.New("serverauth: no token")
	}
	var alg string
	if token.Method != nil {
		alg = token.Method.Alg()
	} else {
		alg, _ = token.Header["alg"].(string)
	}
	kid, ok := token.Header["kid"].(string)
	if !ok || kid == "" {
		return nil, errors.New(`serverauth: malformed token: no "kid" header`)
	}
	return p.key(ctx, alg, kid)
}

// RsaKey returns the RSA key with key ID kid for alg RS256, refetching the
// sources as GetKey does.
func (p *KeyProvider) RsaKey(alg string, kid string) (*rsa.PublicKey, error) {
	if !strings.EqualFold(alg, algRS256) {
		return nil, fmt.Errorf("serverauth: unexpected signing algorithm %q for an RSA key", truncate(alg, 20))
	}
	k, err := p.key(context.Background(), algRS256, kid)
	if err != nil {
		return nil, err
	}
	return k.(*rsa.PublicKey), nil
}

// EcdsaKey returns the P-256 key with key ID kid for alg ES256, refetching
// the sources as GetKey does.
func (p *KeyProvider) EcdsaKey(alg string, kid string) (*ecdsa.PublicKey, error) {
	if !strings.EqualFold(alg, algES256) {
		return nil, fmt.Errorf("serverauth: unexpected signing algorithm %q for an ECDSA key", truncate(alg, 20))
	}
	k, err := p.key(context.Background(), algES256, kid)
	if err != nil {
		return nil, err
	}
	return k.(*ecdsa.PublicKey), nil
}

// HmacKey always fails: the provider serves only public keys.
func (p *KeyProvider) HmacKey(alg string, kid string) ([]byte, error) {
	return nil, fmt.Errorf("serverauth: HMAC keys are not supported (alg %q)", truncate(alg, 20))
}

// SupportedMethods returns RS256 and ES256, the algorithms the Temporal
// server's default claim mapper accepts.
func (p *KeyProvider) SupportedMethods() []string {
	return []string{algRS256, algES256}
}

// Close stops the periodic refresh, cancels a fetch under way and waits for
// the provider's goroutine to end. Lookups after Close use the keys held and
// never fetch. Close may be called more than once.
func (p *KeyProvider) Close() {
	p.closeOnce.Do(func() {
		p.cancel()
		p.mu.Lock()
		p.closed = true
		if p.periodic != nil {
			p.periodic.Stop()
		}
		if p.deferred != nil {
			p.deferred.Stop()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
}

// Stats returns the provider's counters and the state of each source.
func (p *KeyProvider) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Keys = len(p.keys)
	s.LastFetch = p.lastRound
	s.Sources = make([]SourceStats, len(p.sources))
	for i, src := range p.sources {
		s.Sources[i] = SourceStats{
			Source:      src.name,
			Keys:        len(src.keys),
			Fetches:     src.fetches,
			Failures:    src.failures,
			LastSuccess: src.lastSuccess,
			LastError:   src.lastErr,
		}
	}
	return s
}

// key looks kid up for alg, refetching when it is unknown and allowed to.
func (p *KeyProvider) key(ctx context.Context, alg, kid string) (any, error) {
	if alg != algRS256 && alg != algES256 {
		return nil, fmt.Errorf("serverauth: signing algorithm %q is not supported (RS256, ES256)", truncate(alg, 20))
	}
	shownKid := truncate(kid, maxKidInLogs)
	p.mu.Lock()
	if k, ok := p.keys[kid]; ok {
		p.mu.Unlock()
		return k.forAlg(alg)
	}
	p.stats.UnknownKeyIDs++
	now := p.ts.Now()
	r := p.round
	joined := r != nil
	if r == nil {
		next := p.nextRefetchLocked(now)
		if p.closed || now.Before(next) {
			return p.refuseLocked(now, next, kid)
		}
		p.lastRefetch = now
		p.stats.Refetches++
		r = p.requestRoundLocked("unknown key ID", kid)
	}
	p.mu.Unlock()
	if !joined {
		p.logger.Info("JWT key ID unknown: refetching the key sources",
			tag.NewStringTag("kid", shownKid), tag.NewTimeTag("keys-fetched-at", p.Stats().LastFetch))
		p.count(metricRefetches)
	}

	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("serverauth: key ID %q unknown; gave up waiting for the refetch: %w", shownKid, ctx.Err())
	case <-p.ctx.Done():
		return nil, fmt.Errorf("serverauth: key ID %q unknown and the key provider is closed", shownKid)
	}

	p.mu.Lock()
	if k, ok := p.keys[kid]; ok {
		p.stats.FoundAfterRefetch++
		p.mu.Unlock()
		p.count(metricUnknownKeyIDs, metrics.Tag{Key: "outcome", Value: "found"})
		return k.forAlg(alg)
	}
	p.stats.NotFoundAfterRefetch++
	p.rememberLocked(kid, now)
	next := p.nextRefetchLocked(p.ts.Now())
	p.mu.Unlock()
	p.count(metricUnknownKeyIDs, metrics.Tag{Key: "outcome", Value: "not_found"})
	return nil, fmt.Errorf("serverauth: key ID %q is not in any key source, refetched just now; the next refetch may happen at %s",
		shownKid, next.UTC().Format(time.RFC3339))
}

// refuseLocked refuses an unknown kid without fetching, schedules one
// refetch for when it is allowed, and unlocks p.mu.
func (p *KeyProvider) refuseLocked(now, next time.Time, kid string) (any, error) {
	shownKid := truncate(kid, maxKidInLogs)
	p.stats.RateLimited++
	_, seen := p.missing[kid]
	p.rememberLocked(kid, now)
	if !p.closed {
		p.scheduleDeferredLocked(now, next)
	}
	logIt := !seen && p.logged < maxLoggedPerWindow
	if logIt {
		p.logged++
	} else {
		p.quiet++
	}
	fetched, closed := p.lastRound, p.closed
	p.mu.Unlock()
	p.count(metricUnknownKeyIDs, metrics.Tag{Key: "outcome", Value: "rate_limited"})
	if closed {
		return nil, fmt.Errorf("serverauth: key ID %q is not in the keys held, and the key provider is closed", shownKid)
	}
	if logIt {
		p.logger.Warn("JWT key ID unknown; refetch not allowed yet (rate limit), token refused",
			tag.NewStringTag("kid", shownKid),
			tag.NewTimeTag("keys-fetched-at", fetched),
			tag.NewTimeTag("next-refetch-at", next),
			tag.NewDurationTag("min-refetch-interval", p.minRefetch))
	}
	return nil, fmt.Errorf("serverauth: key ID %q is not in the keys fetched at %s; refetches are limited to one per %v, the next may happen at %s",
		shownKid, fetched.UTC().Format(time.RFC3339), p.minRefetch, next.UTC().Format(time.RFC3339))
}

// nextRefetchLocked returns when an unknown kid may trigger a refetch.
func (p *KeyProvider) nextRefetchLocked(now time.Time) time.Time {
	if p.lastRefetch.IsZero() {
		return now
	}
	return p.lastRefetch.Add(p.minRefetch)
}

func (p *KeyProvider) rememberLocked(kid string, now time.Time) {
	if _, ok := p.missing[kid]; !ok && len(p.missing) < maxRemembered {
		p.missing[kid] = now
	}
}

func (p *KeyProvider) scheduleDeferredLocked(now, at time.Time) {
	if !p.deferredAt.IsZero() {
		return
	}
	p.deferredAt = at
	if p.deferred == nil {
		p.deferred = p.ts.AfterFunc(at.Sub(now), func() { signal(p.deferredC) })
	} else {
		p.deferred.Reset(at.Sub(now))
	}
}

// requestRoundLocked returns the round requested or under way, or requests
// a new one.
func (p *KeyProvider) requestRoundLocked(reason, kid string) *round {
	if p.round == nil {
		p.round = &round{done: make(chan struct{}), reason: reason, kid: kid}
		signal(p.wake)
	}
	return p.round
}

// signal sends on a channel of capacity one without blocking. Timer
// callbacks use it: they must not block or take p.mu (a test clock runs
// them while holding its own lock).
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// loop runs the fetches: the requested ones, the periodic ones and the
// delayed refetch.
func (p *KeyProvider) loop() {
	defer p.wg.Done()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.wake:
		case <-p.periodicC:
			p.mu.Lock()
			if p.round == nil && p.ts.Now().Sub(p.lastRound) >= p.refresh { // not a stale signal
				p.requestRoundLocked("periodic refresh", "")
			}
			p.mu.Unlock()
		case <-p.deferredC:
			p.mu.Lock()
			if p.round == nil && !p.deferredAt.IsZero() {
				p.deferredAt = time.Time{}
				p.lastRefetch = p.ts.Now()
				p.stats.Refetches++
				p.requestRoundLocked("refetch for unknown key IDs, delayed by the rate limit", "")
				p.count(metricRefetches)
			}
			p.mu.Unlock()
		}
		p.mu.Lock()
		r := p.round
		p.mu.Unlock()
		if r != nil {
			p.run(r)
		}
	}
}

// fetchResult is what one source gave in a round.
type fetchResult struct {
	keys    []publicKey
	skipped []skippedKey
	err     error
}

// run fetches every source at once, then updates the keys.
func (p *KeyProvider) run(r *round) {
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	results := make([]fetchResult, len(p.sources))
	var wg sync.WaitGroup
	for i, s := range p.sources {
		wg.Go(func() {
			keys, skipped, err := p.fetcher.fetch(ctx, s)
			results[i] = fetchResult{keys: keys, skipped: skipped, err: err}
		})
	}
	wg.Wait()
	cancel()
	if p.ctx.Err() != nil { // closed: keep the keys, log nothing
		p.mu.Lock()
		p.round = nil
		p.mu.Unlock()
		close(r.done)
		return
	}
	p.finish(r, results)
}

// finish stores a round's results: a source that failed keeps its last
// good keys.
func (p *KeyProvider) finish(r *round, results []fetchResult) {
	now := p.ts.Now()
	p.mu.Lock()
	type failure struct {
		src  *source
		err  error
		kept int
	}
	var failures []failure
	for i, res := range results {
		s := p.sources[i]
		s.fetches++
		if res.err != nil {
			s.failures++
			s.lastErr = res.err.Error()
			failures = append(failures, failure{s, res.err, len(s.keys)})
			continue
		}
		s.keys, s.lastSuccess, s.lastErr = res.keys, now, ""
	}
	old := p.keys
	merged, conflicts := p.mergeLocked()
	p.keys = merged
	waited := len(p.missing)
	p.missing = map[string]time.Time{}
	logged, quiet := p.logged, p.quiet
	p.logged, p.quiet = 0, 0
	p.lastRound = now
	p.stats.Fetches++
	p.round = nil
	if p.deferred != nil {
		p.deferred.Stop()
	}
	p.deferredAt = time.Time{}
	if p.refresh > 0 && !p.closed {
		if p.periodic == nil {
			p.periodic = p.ts.AfterFunc(p.refresh, func() { signal(p.periodicC) })
		} else {
			p.periodic.Reset(p.refresh)
		}
	}
	nextRefetch := p.nextRefetchLocked(now)
	p.mu.Unlock()
	// Waiters wake after the log lines, so the log reads in order.
	defer close(r.done)

	var added, removed []string
	for kid := range merged {
		if _, ok := old[kid]; !ok {
			added = append(added, truncate(kid, maxKidInLogs))
		}
	}
	for kid := range old {
		if _, ok := merged[kid]; !ok {
			removed = append(removed, truncate(kid, maxKidInLogs))
		}
	}
	slices.Sort(added)
	slices.Sort(removed)

	for _, f := range failures {
		p.logger.Warn("JWT key source failed; its last good keys stay in use",
			tag.NewStringTag("source", f.src.name), tag.Error(f.err), tag.NewInt("kept-keys", f.kept),
			tag.NewInt64("failures", f.src.failures), tag.NewTimeTag("last-success", f.src.lastSuccess))
		p.count(metricSourceFetches, metrics.Tag{Key: "outcome", Value: "failure"})
	}
	for i, res := range results {
		if res.err != nil {
			continue
		}
		p.count(metricSourceFetches, metrics.Tag{Key: "outcome", Value: "success"})
		for _, sk := range res.skipped {
			p.logger.Info("JWT key skipped: it cannot verify RS256 or ES256 tokens",
				tag.NewStringTag("source", p.sources[i].name), tag.NewStringTag("kid", truncate(sk.kid, maxKidInLogs)),
				tag.NewStringTag("reason", sk.reason))
		}
		if len(res.keys) == 0 {
			p.logger.Warn("JWT key source answered with no usable key", tag.NewStringTag("source", p.sources[i].name))
		}
	}
	for _, c := range conflicts {
		p.logger.Warn("JWT key ID published by two sources with different keys; the first source's key is used",
			tag.NewStringTag("kid", truncate(c, maxKidInLogs)))
	}
	if p.metrics != nil {
		metricKeys.With(p.metrics).Record(float64(len(merged)))
	}
	tags := []tag.Tag{
		tag.NewStringTag("reason", r.reason), tag.NewInt("keys", len(merged)),
		tag.NewStringsTag("added", added), tag.NewStringsTag("removed", removed),
		tag.NewInt("failed-sources", len(failures)),
	}
	if r.kid != "" {
		_, found := merged[r.kid]
		tags = append(tags, tag.NewStringTag("kid", truncate(r.kid, maxKidInLogs)), tag.NewBoolTag("kid-found", found),
			tag.NewTimeTag("next-refetch-at", nextRefetch))
	}
	if waited > 0 || logged+quiet > 0 {
		tags = append(tags, tag.NewInt("unknown-key-ids-since-last-fetch", waited),
			tag.NewInt("refused-without-refetch", logged+quiet))
	}
	p.logger.Info("JWT keys fetched", tags...)
}

// mergeLocked combines the sources' last good keys; when two sources publish
// one key ID with different keys, the earlier source wins.
func (p *KeyProvider) mergeLocked() (map[string]publicKey, []string) {
	merged := make(map[string]publicKey)
	var conflicts []string
	for _, s := range p.sources {
		for _, k := range s.keys {
			if prev, ok := merged[k.kid]; ok {
				if !prev.equal(k) {
					conflicts = append(conflicts, k.kid)
				}
				continue
			}
			merged[k.kid] = k
		}
	}
	return merged, conflicts
}

// forAlg returns the key if it verifies alg.
func (k publicKey) forAlg(alg string) (any, error) {
	if k.alg != alg {
		return nil, fmt.Errorf("serverauth: key ID %q holds a %s key; the token is signed with %s",
			truncate(k.kid, maxKidInLogs), k.alg, alg)
	}
	return k.key, nil
}

func (p *KeyProvider) count(def counterDef, tags ...metrics.Tag) {
	if p.metrics != nil {
		def.With(p.metrics).Record(1, tags...)
	}
}
