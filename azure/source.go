package azure

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/temporalauth/temporalauth/headers"
)

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
// headers.TokenSource and is safe for concurrent use.
//
// MSAL keeps its own token cache: a call returns the cached token until five
// minutes before it expires, so calling Token often is cheap. Put a
// headers.Provider in front of it (see [NewProvider]) for single-flight
// refresh, backoff and the Temporal header.
type Source struct {
	name string
	cred credential
	http *recordingClient
	own  bool // http wraps a transport this Source created
}

// NewTokenSource validates cfg and returns a Source for it. It reads the
// certificate when one is configured and checks that the federated token file
// can be read; it does not contact the identity provider.
func NewTokenSource(cfg Config) (*Source, error) {
	kind, err := cfg.validate(fieldNames)
	if err != nil {
		return nil, err
	}
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
	return &Source{name: sourceName(cfg, kind), cred: cred, http: hc, own: own}, nil
}

// NewProvider returns a headers.Provider that sends tokens from
// NewTokenSource(cfg). When opts.Name is empty it is set to [Source.Name].
func NewProvider(cfg Config, opts headers.Options) (*headers.Provider, error) {
	src, err := NewTokenSource(cfg)
	if err != nil {
		return nil, err
	}
	if opts.Name == "" {
		opts.Name = src.Name()
	}
	return headers.New(src, opts), nil
}

func sourceName(cfg Config, kind credentialKind) string {
	if kind == kindManagedIdentity {
		return "azure managed identity " + cfg.ManagedIdentity.String()
	}
	return "azure client_id=" + cfg.ClientID + " tenant=" + cfg.TenantID
}

// Name describes the identity, e.g. "azure client_id=<id> tenant=<tenant>"
// or "azure managed identity system-assigned".
func (s *Source) Name() string { return s.name }

// String is Name.
func (s *Source) String() string { return s.name }

// Token returns an access token for the configured scopes, from MSAL's cache
// or from the identity provider. Expiry is the token's expiry as the identity
// provider reported it; RefreshAt is set when the identity provider asked for
// an earlier refresh (refresh_in).
//
// Errors never contain the client secret, the assertion, or a token. An error
// answer from the identity provider is a *[ResponseError] (find it with
// errors.As); when it carried Retry-After the error is marked with
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
		return headers.Token{}, explain(ctx, err, ex, time.Since(start), s.cred.secrets())
	}
	if r.token == "" {
		return headers.Token{}, errors.New("azure: the identity provider returned an empty access token")
	}
	tok := headers.Token{Value: r.token, Expiry: r.expiresOn}
	if now := time.Now(); r.refreshOn.After(now) && (r.expiresOn.IsZero() || r.refreshOn.Before(r.expiresOn)) {
		tok.RefreshAt = r.refreshOn
	}
	return tok, nil
}

// Close releases idle connections of the HTTP transport the Source created
// for itself; a Config.HTTPClient is left alone. The Source still works
// after Close.
func (s *Source) Close() error {
	if s.own {
		s.http.CloseIdleConnections()
	}
	return nil
}

// newRecordingClient wraps c, or a client with a private copy of
// http.DefaultTransport when c is nil (own reports that case).
func newRecordingClient(c *http.Client) (*recordingClient, bool) {
	if c != nil {
		return &recordingClient{client: c}, false
	}
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return &recordingClient{client: &http.Client{}}, true
	}
	return &recordingClient{client: &http.Client{Transport: t.Clone()}}, true
}

// knownCloudHosts are the Entra ID hosts of Azure's clouds; MSAL's instance
// discovery (authority validation) stays on for them and is turned off for
// any other host (private clouds, test servers).
var knownCloudHosts = map[string]bool{
	"login.microsoftonline.com":        true,
	"login.microsoft.com":              true,
	"login.windows.net":                true,
	"sts.windows.net":                  true,
	"login.microsoftonline.us":         true,
	"login-us.microsoftonline.com":     true,
	"login.usgovcloudapi.net":          true,
	"login.chinacloudapi.cn":           true,
	"login.partner.microsoftonline.cn": true,
	"login.microsoftonline.de":         true,
	"login.sovcloud-identity.fr":       true,
	"login.sovcloud-identity.de":       true,
	"login.sovcloud-identity.sg":       true,
}

func isKnownCloudHost(host string) bool { return knownCloudHosts[strings.ToLower(host)] }
