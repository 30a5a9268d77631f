package oidc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/config"
	"github.com/temporalauth/temporalauth/internal/idperr"
	"github.com/temporalauth/temporalauth/jwtkey"
)

// defaultTimeout bounds a Token call whose context has no deadline.
const defaultTimeout = 30 * time.Second

// maxSecretFileSize bounds how much of a client secret file is read.
const maxSecretFileSize = 64 << 10

// maxDiscoverySize bounds the discovery document.
const maxDiscoverySize = 1 << 20

// assertionType is RFC 7523's client_assertion_type for a JWT.
const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// A Source gets access tokens with the client-credentials grant, one
// token request per Token call (it does not cache: a headers.Provider in
// front of it does; see NewProvider). It is a headers.TokenSource, safe for
// concurrent use. Build one with NewTokenSource.
type Source struct {
	checked
	clientID   string
	credential string // the Config field holding the credential
	secret     string
	secretFile string
	signer     *jwtkey.ClaimSigner
	scopes     []string
	audience   string
	resource   []string
	allowHTTP  bool
	http       *http.Client
	ownHTTP    bool // http is defaultClient's: Close releases its connections
	now        func() time.Time
	fromEnv    bool

	mu       sync.Mutex
	endpoint string // discovered token endpoint
}

var _ headers.TokenSource = (*Source)(nil)

// NewTokenSource checks cfg, applies its defaults and returns a Source. It
// reads the private key file and checks that the client secret file can
// be read; it does not contact the identity provider (discovery happens on
// the first Token call). Its errors are *headers.ConfigError naming the
// setting at fault.
func NewTokenSource(cfg Config) (*Source, error) {
	k, err := cfg.check()
	if err != nil {
		return nil, err
	}
	s := &Source{
		checked:    k,
		clientID:   cfg.ClientID,
		secret:     cfg.ClientSecret,
		secretFile: cfg.ClientSecretFile,
		scopes:     slices.Clone(cfg.Scopes),
		audience:   cfg.Audience,
		resource:   slices.Clone(cfg.Resource),
		allowHTTP:  cfg.AllowHTTP,
		http:       cfg.HTTPClient,
		now:        config.Clock(cfg.Clock).Now,
		fromEnv:    cfg.fromEnv,
	}
	if s.http == nil {
		s.http, s.ownHTTP = defaultClient(), true
	}
	switch {
	case cfg.ClientSecret != "":
		s.credential = "ClientSecret"
	case cfg.ClientSecretFile != "":
		s.credential = "ClientSecretFile"
		if _, err := s.readSecretFile(); err != nil {
			return nil, names.Wrap(cfg.fromEnv, "ClientSecretFile", err)
		}
	case cfg.PrivateKey != nil:
		s.credential = "PrivateKey"
		if s.signer, err = jwtkey.NewClaimSigner(cfg.PrivateKey, cfg.KeyID); err != nil {
			return nil, names.Wrap(cfg.fromEnv, "PrivateKey", err)
		}
	default:
		s.credential = "PrivateKeyFile"
		if s.signer, err = jwtkey.NewClaimSignerFromFile(cfg.PrivateKeyFile, cfg.KeyID); err != nil {
			return nil, names.Wrap(cfg.fromEnv, "PrivateKeyFile", err)
		}
	}
	return s, nil
}

// defaultClient is an HTTP client with its own transport that follows no
// redirects: a token request is never replayed, credentials and all, to
// another address.
func defaultClient() *http.Client {
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		c.Transport = t.Clone()
	}
	return c
}

// NewProvider returns a headers.Provider, ready for
// client.Options.HeadersProvider, that gets tokens from
// NewTokenSource(cfg) and caches each until opts.Leeway before its expiry.
// cfg.Clock defaults to opts.Clock, and opts.Name to
// "oidc client_id=<id> issuer=<issuer>" (or token_url=<url>). Options
// that headers.Options.Validate refuses are an error here, at start.
func NewProvider(cfg Config, opts headers.Options) (*headers.Provider, error) {
	cfg.Clock = config.OrDefault[headers.Clock](cfg.Clock, opts.Clock)
	return config.NewProvider(opts, func() (*Source, error) { return NewTokenSource(cfg) },
		func(src *Source, opts *headers.Options) error {
			opts.Name = config.OrDefault(opts.Name, src.String())
			return nil
		})
}

// Token requests a new access token from the token endpoint, after finding
// the endpoint by discovery on the first call when the Config names an
// Issuer. A client secret file is read again first; a private_key_jwt
// assertion is signed anew, with its own jti.
//
// Token.Expiry is the time of the answer plus its expires_in; without
// expires_in, the access token's own "exp" claim when it is a JWT (read,
// not verified: the Temporal server verifies it); else the time of the
// answer plus DefaultLifetime.
//
// An error answer is a *ResponseError (find it with errors.As), marked
// with headers.WithRetryAfter when it carried Retry-After. Errors never
// hold the client secret, the assertion, or a token. A ctx without a
// deadline gets one of 30 seconds.
func (s *Source) Token(ctx context.Context) (headers.Token, error) {
	if s.method == "" {
		return headers.Token{}, errors.New("oidc: Source not made by NewTokenSource")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	endpoint, err := s.tokenEndpoint(ctx)
	if err != nil {
		return headers.Token{}, err
	}
	cc := &clientcredentials.Config{
		ClientID:       s.clientID,
		TokenURL:       endpoint,
		Scopes:         s.scopes,
		EndpointParams: url.Values{},
	}
	if s.audience != "" {
		cc.EndpointParams.Set("audience", s.audience)
	}
	if len(s.resource) > 0 {
		cc.EndpointParams["resource"] = slices.Clone(s.resource)
	}
	var secrets []string
	switch s.method {
	case AuthSecretBasic, AuthSecretPost:
		cc.AuthStyle = oauth2.AuthStyleInHeader
		if s.method == AuthSecretPost {
			cc.AuthStyle = oauth2.AuthStyleInParams
		}
		if cc.ClientSecret, err = s.clientSecret(); err != nil {
			return headers.Token{}, err
		}
		secrets = []string{cc.ClientSecret}
	case AuthPrivateKeyJWT:
		cc.AuthStyle = oauth2.AuthStyleInParams // client_id only: the secret is empty
		assertion, err := s.assertion(endpoint)
		if err != nil {
			return headers.Token{}, err
		}
		cc.EndpointParams.Set("client_assertion_type", assertionType)
		cc.EndpointParams.Set("client_assertion", assertion)
		secrets = []string{assertion}
	}
	u, _ := url.Parse(endpoint)
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, s.http))
	now := s.now()
	if err != nil {
		return headers.Token{}, s.explain(ctx, u, err, now, secrets)
	}
	if tok.AccessToken == "" {
		return headers.Token{}, fmt.Errorf("oidc: POST %s: the answer holds no access_token", idperr.URL(u))
	}
	if tt := tok.TokenType; tt != "" && !strings.EqualFold(tt, "bearer") {
		return headers.Token{}, fmt.Errorf("oidc: POST %s: token_type %s: the Temporal server takes Bearer tokens", idperr.URL(u), config.Quote(tt))
	}
	return headers.NewToken(tok.AccessToken, expiry(tok, now)), nil
}

// expiry is when tok expires: see Token.
func expiry(tok *oauth2.Token, now time.Time) time.Time {
	switch v := tok.Extra("expires_in").(type) {
	case float64:
		if v > 0 {
			return now.Add(time.Duration(v) * time.Second)
		}
	case string: // some servers quote it
		var secs json.Number = json.Number(v)
		if n, err := secs.Int64(); err == nil && n > 0 {
			return now.Add(time.Duration(n) * time.Second)
		}
	}
	if exp, ok := jwtExpiry(tok.AccessToken); ok {
		return exp
	}
	return now.Add(DefaultLifetime)
}

// jwtExpiry reads the "exp" claim of a JWT without verifying it.
func jwtExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return time.Time{}, false
	}
	exp, err := claims.Exp.Float64()
	if err != nil || exp <= 0 {
		return time.Time{}, false
	}
	return time.Unix(int64(exp), 0), true
}

// clientSecret returns the secret, reading the file again if there is one.
func (s *Source) clientSecret() (string, error) {
	if s.secretFile == "" {
		return s.secret, nil
	}
	return s.readSecretFile()
}

func (s *Source) readSecretFile() (string, error) {
	return config.ReadSecretFile("client secret file", s.secretFile, maxSecretFileSize)
}

// assertion signs a private_key_jwt client assertion for endpoint.
func (s *Source) assertion(endpoint string) (string, error) {
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	now := s.now()
	a, err := s.signer.Sign(map[string]any{
		"iss": s.clientID,
		"sub": s.clientID,
		"aud": endpoint,
		"jti": base64.RawURLEncoding.EncodeToString(jti[:]),
		"iat": now.Unix(),
		"exp": now.Add(AssertionLifetime).Unix(),
	})
	if err != nil {
		return "", names.Wrap(s.fromEnv, s.credential, err)
	}
	return a, nil
}

// explain turns an error from the oauth2 package into one that says what
// happened without quoting credentials, tokens or whole bodies.
func (s *Source) explain(ctx context.Context, u *url.URL, err error, now time.Time, secrets []string) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		e := responseError(http.MethodPost, u, re.Response, re.Body, now, secrets)
		if e.StatusCode >= 200 && e.StatusCode <= 299 && e.ErrorCode == "" {
			return fmt.Errorf("oidc: POST %s: unusable %s answer of %d bytes", idperr.URL(u), e.ContentType, e.BodyLength)
		}
		s.hint(e)
		return withRetryAfter(e)
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("oidc: POST %s: no answer: %w", idperr.URL(u), cerr)
	}
	return &scrubbedError{err: err, msg: "oidc: POST " + idperr.URL(u) + ": " + idperr.Scrub(strings.TrimPrefix(err.Error(), "oauth2: "), secrets)}
}

// scrubbedError keeps an error's identity (for errors.Is and errors.As)
// while replacing its message with a scrubbed one.
type scrubbedError struct {
	err error
	msg string
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// tokenEndpoint returns the token URL, discovering it on first use.
func (s *Source) tokenEndpoint(ctx context.Context) (string, error) {
	if s.tokenURL != "" {
		return s.tokenURL, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.endpoint != "" {
		return s.endpoint, nil
	}
	endpoint, err := s.discover(ctx)
	if err != nil {
		return "", err
	}
	s.endpoint = endpoint
	return endpoint, nil
}

// discover reads the token endpoint from the issuer's OpenID Connect
// discovery document (OpenID Connect Discovery 1.0, section 4).
func (s *Source) discover(ctx context.Context) (string, error) {
	u, _ := url.Parse(s.discovery)
	where := "oidc: GET " + idperr.URL(u)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.discovery, nil)
	if err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return "", fmt.Errorf("%s: no answer: %w", where, cerr)
		}
		return "", &scrubbedError{err: err, msg: where + ": " + idperr.Scrub(err.Error(), nil)}
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscoverySize+1))
	if err != nil {
		return "", fmt.Errorf("%s: reading the answer: %w", where, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := responseError(http.MethodGet, u, resp, body, s.now(), nil)
		if e.StatusCode == http.StatusNotFound {
			e.Setting = names.Of("Issuer", s.fromEnv)
			e.Hint = fmt.Sprintf("no discovery document: check %s, or set %s to the token endpoint instead", e.Setting, names.Of("TokenURL", s.fromEnv))
		}
		return "", withRetryAfter(e)
	}
	if len(body) > maxDiscoverySize {
		return "", fmt.Errorf("%s: the answer is larger than %d bytes: not a discovery document", where, maxDiscoverySize)
	}
	var doc struct {
		Issuer        string   `json:"issuer"`
		TokenEndpoint string   `json:"token_endpoint"`
		AuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("%s: not a discovery document (a JSON object): %v", where, err)
	}
	issuerSetting := names.Of("Issuer", s.fromEnv)
	if strings.TrimSuffix(doc.Issuer, "/") != s.issuer {
		return "", &headers.ConfigError{Setting: issuerSetting,
			Err: fmt.Errorf("%s: the document names the issuer %s, not %s: set %s to the issuer exactly as the identity provider names it",
				where, config.Quote(doc.Issuer), config.Quote(s.issuer), issuerSetting)}
	}
	if doc.TokenEndpoint == "" {
		return "", fmt.Errorf("%s: the document names no token_endpoint", where)
	}
	c := Config{AllowHTTP: s.allowHTTP, fromEnv: s.fromEnv}
	if err := c.checkURL(doc.TokenEndpoint); err != nil {
		return "", fmt.Errorf("%s: token_endpoint: %w", where, err)
	}
	if len(doc.AuthMethods) > 0 && !slices.Contains(doc.AuthMethods, s.method) {
		return "", &headers.ConfigError{Setting: names.Of("AuthMethod", s.fromEnv),
			Err: fmt.Errorf("the identity provider does not support %s; it supports %s", s.method, strings.Join(doc.AuthMethods, ", "))}
	}
	return doc.TokenEndpoint, nil
}

// Close releases the idle connections of the HTTP transport the Source
// made for itself; a Config.HTTPClient is left alone. The Source still
// works after Close. A headers.Provider closes its source when it is
// closed.
func (s *Source) Close() error {
	if s.ownHTTP {
		s.http.CloseIdleConnections()
	}
	return nil
}

// String describes s without its secrets, such as
// "oidc client_id=worker issuer=https://idp.example.com".
func (s *Source) String() string {
	if s.issuer != "" {
		return fmt.Sprintf("oidc client_id=%s issuer=%s", s.clientID, s.issuer)
	}
	return fmt.Sprintf("oidc client_id=%s token_url=%s", s.clientID, s.tokenURL)
}

// GoString describes s without its secrets, for %#v.
func (s *Source) GoString() string { return "oidc.Source{" + s.String() + "}" }

// Format prints s as String does (GoString for %#v) whatever the verb, so
// that no verb prints a secret.
func (s *Source) Format(f fmt.State, verb rune) {
	config.Format(f, verb, s)
}

// LogValue describes s for log/slog without its secrets.
func (s *Source) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("client_id", s.clientID),
		slog.String("auth_method", s.method),
	}
	if s.issuer != "" {
		attrs = append(attrs, slog.String("issuer", s.issuer))
	} else {
		attrs = append(attrs, slog.String("token_url", s.tokenURL))
	}
	if s.secretFile != "" {
		attrs = append(attrs, slog.String("client_secret_file", s.secretFile))
	}
	if s.signer != nil {
		attrs = append(attrs, slog.String("kid", s.signer.KeyID()))
	}
	return slog.GroupValue(attrs...)
}
