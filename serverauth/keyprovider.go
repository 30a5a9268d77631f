package serverauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
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
	maxAge     time.Duration // <= 0: keys never age out
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
	keys        map[string]heldKey // every source's last good keys
	missing     kidMemory          // key IDs the last fetch lacked
	round       *round             // requested or running; nil when idle
	lastRound   time.Time          // when the last fetch ended
	lastRefetch time.Time          // when the last on-demand refetch began; zero: never
	periodic    clock.Timer
	deferred    clock.Timer
	deferredAt  time.Time // when the delayed refetch is due; zero: none pending
	logged      int       // rate-limited refusals logged since the last fetch
	quiet       int       // rate-limited refusals not logged since the last fetch
	issLogged   int       // issuer refusals logged since the last fetch
	issQuiet    int       // issuer refusals not logged since the last fetch
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
	// IssuerRefused counts tokens refused because their "iss" is not
	// allowed to use the key that signed them (see Config.JWKSIssuers).
	IssuerRefused int64
	// KeysDroppedForAge counts keys dropped because their source had
	// failed for longer than Config.MaxKeyAge.
	KeysDroppedForAge int64
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
	// Issuers are the issuers allowed to use the source's keys: the
	// configured ones, or an OpenID issuer's as its discovery document
	// last named it. Empty with AnyIssuer, or before an OpenID issuer's
	// first successful fetch.
	Issuers []string
	// AnyIssuer is true for a JWKS URL left unbound by
	// Config.AllowAnyIssuer: its keys verify tokens of any issuer.
	AnyIssuer bool
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
	sources, err := newSources(&cfg)
	if err != nil {
		return nil, fmt.Errorf("serverauth: %w", err)
	}
	refresh := cfg.RefreshInterval
	if refresh == 0 {
		refresh = DefaultRefreshInterval
	}
	maxAge, err := maxKeyAge(cfg.MaxKeyAge, refresh)
	if err != nil {
		return nil, err
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
		maxAge:     maxAge,
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
		keys:       map[string]heldKey{},
		missing:    newKidMemory(),
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
// if it suits the token's algorithm (RS256: an RSA key, ES256: a P-256 key)
// and the token's "iss" claim is an issuer allowed to use it (see the
// package documentation, Issuer binding); otherwise the token is refused
// before its signature is checked.
//
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
	k, err := p.key(ctx, alg, kid)
	if err != nil {
		return nil, err
	}
	if err := p.checkIssuer(token, kid, k); err != nil {
		return nil, err
	}
	return k.forAlg(alg)
}

// RsaKey returns the RSA key with key ID kid for alg RS256, refetching the
// sources as GetKey does. It cannot see the token's issuer, so it serves
// only keys that any issuer may use (Config.AllowAnyIssuer); the claim
// mapper calls GetKey instead.
func (p *KeyProvider) RsaKey(alg string, kid string) (*rsa.PublicKey, error) {
	if !strings.EqualFold(alg, algRS256) {
		return nil, fmt.Errorf("serverauth: unexpected signing algorithm %q for an RSA key", truncate(alg, 20))
	}
	k, err := p.unboundKey(algRS256, kid)
	if err != nil {
		return nil, err
	}
	return k.(*rsa.PublicKey), nil
}

// EcdsaKey returns the P-256 key with key ID kid for alg ES256, refetching
// the sources as GetKey does. Like RsaKey, it serves only keys that any
// issuer may use.
func (p *KeyProvider) EcdsaKey(alg string, kid string) (*ecdsa.PublicKey, error) {
	if !strings.EqualFold(alg, algES256) {
		return nil, fmt.Errorf("serverauth: unexpected signing algorithm %q for an ECDSA key", truncate(alg, 20))
	}
	k, err := p.unboundKey(algES256, kid)
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
			Issuers:     slices.Clone(src.issuers),
			AnyIssuer:   src.anyIssuer,
			Keys:        len(src.keys),
			Fetches:     src.fetches,
			Failures:    src.failures,
			LastSuccess: src.lastSuccess,
			LastError:   src.lastErr,
		}
	}
	return s
}

// key looks kid up for alg, refetching when it is unknown (or aged out) and
// allowed to.
func (p *KeyProvider) key(ctx context.Context, alg, kid string) (heldKey, error) {
	if alg != algRS256 && alg != algES256 {
		return heldKey{}, fmt.Errorf("serverauth: signing algorithm %q is not supported (RS256, ES256)", truncate(alg, 20))
	}
	shownKid := truncate(kid, maxKidInLogs)
	p.mu.Lock()
	now := p.ts.Now()
	if k, ok := p.keys[kid]; ok && !k.expired(now) {
		p.mu.Unlock()
		return k, nil
	}
	p.stats.UnknownKeyIDs++
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
		return heldKey{}, fmt.Errorf("serverauth: key ID %q unknown; gave up waiting for the refetch: %w", shownKid, ctx.Err())
	case <-p.ctx.Done():
		return heldKey{}, fmt.Errorf("serverauth: key ID %q unknown and the key provider is closed", shownKid)
	}

	p.mu.Lock()
	if k, ok := p.keys[kid]; ok && !k.expired(p.ts.Now()) {
		p.stats.FoundAfterRefetch++
		p.mu.Unlock()
		p.count(metricUnknownKeyIDs, metrics.Tag{Key: "outcome", Value: "found"})
		return k, nil
	}
	p.stats.NotFoundAfterRefetch++
	p.missing.remember(kid, now)
	next := p.nextRefetchLocked(p.ts.Now())
	p.mu.Unlock()
	p.count(metricUnknownKeyIDs, metrics.Tag{Key: "outcome", Value: "not_found"})
	return heldKey{}, fmt.Errorf("serverauth: key ID %q is not in any key source, refetched just now; the next refetch may happen at %s",
		shownKid, next.UTC().Format(time.RFC3339))
}

// refuseLocked refuses an unknown kid without fetching, schedules one
// refetch for when it is allowed, and unlocks p.mu.
func (p *KeyProvider) refuseLocked(now, next time.Time, kid string) (heldKey, error) {
	shownKid := truncate(kid, maxKidInLogs)
	p.stats.RateLimited++
	seen := p.missing.has(kid)
	p.missing.remember(kid, now)
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
		return heldKey{}, fmt.Errorf("serverauth: key ID %q is not in the keys held, and the key provider is closed", shownKid)
	}
	if logIt {
		p.logger.Warn("JWT key ID unknown; refetch not allowed yet (rate limit), token refused",
			tag.NewStringTag("kid", shownKid),
			tag.NewTimeTag("keys-fetched-at", fetched),
			tag.NewTimeTag("next-refetch-at", next),
			tag.NewDurationTag("min-refetch-interval", p.minRefetch))
	}
	return heldKey{}, fmt.Errorf("serverauth: key ID %q is not in the keys fetched at %s; refetches are limited to one per %v, the next may happen at %s",
		shownKid, fetched.UTC().Format(time.RFC3339), p.minRefetch, next.UTC().Format(time.RFC3339))
}

// nextRefetchLocked returns when an unknown kid may trigger a refetch.
func (p *KeyProvider) nextRefetchLocked(now time.Time) time.Time {
	if p.lastRefetch.IsZero() {
		return now
	}
	return p.lastRefetch.Add(p.minRefetch)
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
	issuer  string // an OpenID issuer's, as its discovery document names it
	err     error
}

// run fetches every source at once, then updates the keys.
func (p *KeyProvider) run(r *round) {
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	results := make([]fetchResult, len(p.sources))
	var wg sync.WaitGroup
	for i, s := range p.sources {
		wg.Go(func() {
			results[i] = p.fetcher.fetch(ctx, s)
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
		if s.kind == sourceIssuer {
			s.issuers = []string{res.issuer}
		}
	}
	aged := p.dropAgedLocked(now)
	old := p.keys
	merged, conflicts := p.mergeLocked()
	p.keys = merged
	waited := p.missing.len()
	p.missing.reset()
	logged, quiet, issRefused := p.logged, p.quiet, p.issLogged+p.issQuiet
	p.logged, p.quiet, p.issLogged, p.issQuiet = 0, 0, 0, 0
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
	p.logAged(aged)
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
	if issRefused > 0 {
		tags = append(tags, tag.NewInt("issuer-refusals-since-last-fetch", issRefused))
	}
	p.logger.Info("JWT keys fetched", tags...)
}

func (p *KeyProvider) count(def counterDef, tags ...metrics.Tag) {
	if p.metrics != nil {
		def.With(p.metrics).Record(1, tags...)
	}
}
