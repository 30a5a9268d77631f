package serverauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/clock"
	"go.temporal.io/server/common/log"
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
