package azure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/provider"
	"github.com/temporalauth/temporalauth/internal/setting"
)

var _ headers.Invalidator = (*Source)(nil)

// defaultTimeout bounds a token request whose context has no deadline.
const defaultTimeout = 30 * time.Second

// result is what a credential obtained.
type result struct {
	token     string
	expiresOn time.Time
	refreshOn time.Time
}

// credential obtains tokens in one of the ways Config allows.
type credential interface {
	acquire(ctx context.Context) (result, error)
	// secrets returns the values that must never appear in an error.
	secrets() []string
}

// Source gets Entra ID access tokens through MSAL Go. It implements
// headers.TokenSource and headers.Invalidator, and is safe for concurrent
// use.
//
// Every Token call asks Entra ID (or the managed-identity endpoint) for a
// new token: MSAL's token cache is bypassed. The headers.Provider in front
// (see [NewProvider]) is the cache; it calls Token only for the first
// token, a refresh inside its leeway or at the refresh time Entra ID
// asked for (refresh_in), and a replacement for a token that the server
// rejected. So a leeway of 15 minutes renews 15 minutes before expiry, and
// a failed refresh is counted, logged and retried by the Provider instead
// of being swallowed by MSAL. Share one Provider between the Temporal
// clients of one identity: each Provider fetches its own tokens.
type Source struct {
	cfg  Config
	kind credentialKind
	cred credential
	http *recordingClient
	own  bool // http wraps a transport this Source created
}

// NewTokenSource validates cfg and returns a Source for it. It reads the
// certificate when one is configured and checks that the federated token file
// can be read; it does not contact the identity provider. Errors are
// *headers.ConfigError for a bad setting and *secretfile.Error (from
// internal/secretfile, matched by errors.Is with fs errors) for a file that
// cannot be used.
func NewTokenSource(cfg Config) (*Source, error) {
	kind, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	cfg.Scopes = append([]string(nil), cfg.Scopes...)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Clock = setting.Clock(cfg.Clock)
	hc, own := newRecordingClient(cfg.HTTPClient)
	var cred credential
	switch kind {
	case kindSecret:
		cred, err = newSecretCredential(cfg, hc)
	case kindCertificate:
		cred, err = newCertificateCredential(cfg, hc)
	case kindFederated:
		cred, err = newFederatedCredential(cfg, hc)
	case kindManagedIdentity:
		cred, err = newManagedCredential(cfg, hc)
	}
	if err != nil {
		return nil, err
	}
	return &Source{cfg: cfg, kind: kind, cred: cred, http: hc, own: own}, nil
}

// NewProvider returns a headers.Provider that sends tokens from
// NewTokenSource(cfg). When opts.Name is empty it is set to [Source.Name];
// cfg.Logger and cfg.Clock default to opts.Logger and opts.Clock. Invalid
// opts are a *headers.ConfigError (see headers.Options.Validate).
func NewProvider(cfg Config, opts headers.Options) (*headers.Provider, error) {
	cfg.Logger = setting.OrDefault(cfg.Logger, opts.Logger)
	cfg.Clock = setting.OrDefault[headers.Clock](cfg.Clock, opts.Clock)
	return provider.New(opts, func() (*Source, error) { return NewTokenSource(cfg) },
		func(src *Source, opts *headers.Options) error {
			opts.Name = setting.OrDefault(opts.Name, src.Name())
			return nil
		})
}

// Name describes the identity, e.g. "azure client_id=<id> tenant=<tenant>"
// or "azure managed identity system-assigned".
func (s *Source) Name() string {
	if s.kind == kindManagedIdentity {
		return "azure managed identity " + s.cfg.ManagedIdentity.String()
	}
	return "azure client_id=" + s.cfg.ClientID + " tenant=" + s.cfg.TenantID
}

// String is Name.
func (s *Source) String() string { return s.Name() }

// GoString is Name, for %#v.
func (s *Source) GoString() string { return s.Name() }

// Format prints s as Name whatever the verb, so that no verb prints a
// secret.
func (s *Source) Format(f fmt.State, verb rune) { _, _ = fmt.Fprint(f, s.Name()) }

// LogValue describes the source without secrets: client_id and tenant (for
// an app registration), scopes, credential (client_secret, certificate,
// workload_identity or managed_identity), certificate (its path),
// federated_token_file, identity (the managed identity), authority (when
// set) and instance_discovery=off when authority validation is off.
func (s *Source) LogValue() slog.Value {
	var out []slog.Attr
	str := func(k, v string) {
		if v != "" {
			out = append(out, slog.String(k, v))
		}
	}
	c := s.cfg
	if s.kind != kindManagedIdentity {
		str("client_id", c.ClientID)
		str("tenant", c.TenantID)
	}
	out = append(out, slog.Any("scopes", c.Scopes))
	str("credential", s.kind.String())
	switch s.kind {
	case kindCertificate:
		str("certificate", setting.OrDefault(c.CertificatePath, names.Of("Certificate", false)))
		if c.SendCertificateChain {
			out = append(out, slog.Bool("send_chain", true))
		}
	case kindFederated:
		str("federated_token_file", c.FederatedTokenFile)
	case kindManagedIdentity:
		str("identity", c.ManagedIdentity.String())
	}
	if s.kind != kindManagedIdentity {
		str("authority", c.AuthorityHost)
		if c.DisableInstanceDiscovery {
			str("instance_discovery", "off")
		}
	}
	return slog.GroupValue(out...)
}

// Token returns a new access token for the configured scopes from the
// identity provider (never from MSAL's cache). Expiry is the token's expiry
// as the identity provider reported it; RefreshAt is set when the identity
// provider asked for an earlier refresh (refresh_in), or, for a managed
// identity token that lives longer than two hours, at its half-life.
//
// Errors never contain the client secret, the assertion, or a token. An error
// answer from the identity provider is a *[ResponseError] (find it with
// errors.As) naming the setting to check for the AADSTS codes that point at
// one; when it carried Retry-After the error is marked with
// headers.WithRetryAfter. A call that runs out of time wraps
// context.DeadlineExceeded. A ctx without a deadline gets one of 30 seconds.
func (s *Source) Token(ctx context.Context) (headers.Token, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	ex := &exchange{}
	start := time.Now()
	r, err := s.cred.acquire(withExchange(ctx, ex))
	if err != nil {
		return headers.Token{}, explain(ctx, err, ex, time.Since(start), s.cred.secrets(), s.cfg)
	}
	if r.token == "" {
		return headers.Token{}, errors.New("azure: the identity provider returned an empty access token")
	}
	tok := headers.NewToken(r.token, r.expiresOn)
	if now := time.Now(); r.refreshOn.After(now) && (r.expiresOn.IsZero() || r.refreshOn.Before(r.expiresOn)) {
		tok.RefreshAt = r.refreshOn
	}
	return tok, nil
}

// CertificateNotAfter returns when the certificate of a certificate
// credential expires (after a reload of a changed file, the new one's),
// and false for other credentials. Token refuses to sign with it after
// that time, and warns through Config.Logger in the 30 days before; a
// metric or an alert can watch it too, e.g. as a gauge of the seconds
// left.
func (s *Source) CertificateNotAfter() (time.Time, bool) {
	if c, ok := s.cred.(*certificateCredential); ok {
		return c.notAfter(), true
	}
	return time.Time{}, false
}

// InvalidateToken implements headers.Invalidator: the Provider calls it
// with a token the server rejected before it calls Token for a
// replacement. Token never answers from a cache, so the replacement comes
// from the identity provider and is a new token; nothing needs dropping.
func (s *Source) InvalidateToken(context.Context, headers.Token) {}

// Close releases idle connections of the HTTP transport the Source created
// for itself; a Config.HTTPClient is left alone. The Source still works
// after Close.
func (s *Source) Close() error {
	if s.own {
		s.http.CloseIdleConnections()
	}
	return nil
}

// newRecordingClient wraps c, or when c is nil (own reports that case) a
// client with a private copy of http.DefaultTransport that follows no
// redirects: a 307 or 308 would send the token request, client secret or
// assertion and all, to another address.
func newRecordingClient(c *http.Client) (*recordingClient, bool) {
	if c != nil {
		return &recordingClient{client: c}, false
	}
	own := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		own.Transport = t.Clone()
	}
	return &recordingClient{client: own}, true
}
