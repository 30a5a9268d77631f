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

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/idperr"
	"github.com/temporalauth/temporalauth/internal/provider"
	"github.com/temporalauth/temporalauth/internal/redact"
	"github.com/temporalauth/temporalauth/internal/secretfile"
	"github.com/temporalauth/temporalauth/internal/setting"
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
	clientID          string
	credential        string // the Config field holding the credential
	secret            string
	secretFile        string
	signer            *jwtkey.ClaimSigner
	scopes            []string
	assertionAudience string // Config.AssertionAudience
	issuerAsGiven     string // Config.Issuer
	audience          string
	resource          []string
	allowHTTP         bool
	http              *http.Client
	ownHTTP           bool // http is defaultClient's: Close releases its connections
	now               func() time.Time
	fromEnv           bool

	mu        sync.Mutex
	endpoint  string // discovered token endpoint
	docIssuer string // the issuer as the discovery document names it
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
		checked:           k,
		clientID:          cfg.ClientID,
		secret:            cfg.ClientSecret,
		secretFile:        cfg.ClientSecretFile,
		scopes:            slices.Clone(cfg.Scopes),
		assertionAudience: cfg.AssertionAudience,
		issuerAsGiven:     cfg.Issuer,
		audience:          cfg.Audience,
		resource:          slices.Clone(cfg.Resource),
		allowHTTP:         cfg.AllowHTTP,
		http:              cfg.HTTPClient,
		now:               setting.Clock(cfg.Clock).Now,
		fromEnv:           cfg.fromEnv,
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
	cfg.Clock = setting.OrDefault[headers.Clock](cfg.Clock, opts.Clock)
	return provider.New(opts, func() (*Source, error) { return NewTokenSource(cfg) },
		func(src *Source, opts *headers.Options) error {
			opts.Name = setting.OrDefault(opts.Name, src.String())
			return nil
		})
}

// Token requests a new access token from the token endpoint, after finding
// the endpoint by discovery on the first call when the Config names an
// Issuer. A client secret file is read again first; a private_key_jwt
// assertion is signed anew, with its own jti.
//
// Token.Expiry is the time of the answer plus its expires_in (a JSON
// number in any form, or a string holding one; at most 2^31-1 seconds,
// as golang.org/x/oauth2 caps it); without a positive expires_in, the
// access token's own "exp" claim when it is a JWT (read, not verified:
// the Temporal server verifies it); else the time of the answer plus
// DefaultLifetime.
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
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(s.scopes) > 0 {
		form.Set("scope", strings.Join(s.scopes, " "))
	}
	if s.audience != "" {
		form.Set("audience", s.audience)
	}
	if len(s.resource) > 0 {
		form["resource"] = slices.Clone(s.resource)
	}
	var secrets []string
	var basicUser, basicPass string
	switch s.method {
	case AuthSecretBasic, AuthSecretPost:
		secret, err := s.clientSecret()
		if err != nil {
			return headers.Token{}, err
		}
		secrets = []string{secret, idperr.BasicCredential(s.clientID, secret)}
		if s.method == AuthSecretBasic {
			// RFC 6749 (2.3.1): each form-encoded before Basic encodes them.
			basicUser, basicPass = url.QueryEscape(s.clientID), url.QueryEscape(secret)
		} else {
			form.Set("client_id", s.clientID)
			form.Set("client_secret", secret)
		}
	case AuthPrivateKeyJWT:
		assertion, err := s.assertion(endpoint)
		if err != nil {
			return headers.Token{}, err
		}
		form.Set("client_id", s.clientID)
		form.Set("client_assertion_type", assertionType)
		form.Set("client_assertion", assertion)
		secrets = []string{assertion}
	}
	u, _ := url.Parse(endpoint)
	where := "oidc: POST " + idperr.URL(u)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return headers.Token{}, fmt.Errorf("%s: %w", where, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if basicUser != "" {
		req.SetBasicAuth(basicUser, basicPass)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return headers.Token{}, fmt.Errorf("%s: no answer: %w", where, cerr)
		}
		return headers.Token{}, idperr.Scrubbed(err, where+": "+idperr.Scrub(err.Error(), secrets))
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponseSize+1))
	now := s.now()
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return headers.Token{}, fmt.Errorf("%s: reading the answer: %w", where, cerr)
		}
		return headers.Token{}, idperr.Scrubbed(err, where+": reading the answer: "+idperr.Scrub(err.Error(), secrets))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return headers.Token{}, s.answerError(u, resp, body, now, secrets)
	}
	if len(body) > maxTokenResponseSize {
		return headers.Token{}, fmt.Errorf("%s: the answer is larger than %d bytes: not a token response", where, maxTokenResponseSize)
	}
	ans, err := parseTokenAnswer(resp.Header.Get("Content-Type"), body)
	if err != nil {
		return headers.Token{}, fmt.Errorf("%s: unusable answer of %d bytes: %v", where, len(body), err)
	}
	if ans.errorCode != "" {
		// Some servers answer errors with 200 OK.
		return headers.Token{}, s.answerError(u, resp, body, now, secrets)
	}
	if ans.accessToken == "" {
		return headers.Token{}, fmt.Errorf("%s: the answer holds no access_token", where)
	}
	if tt := ans.tokenType; tt != "" && !strings.EqualFold(tt, "bearer") {
		return headers.Token{}, fmt.Errorf("%s: token_type %s: the Temporal server takes Bearer tokens", where, idperr.Quote(idperr.Text(tt, secrets, idperr.MaxField)))
	}
	return headers.NewToken(ans.accessToken, expiry(ans, now)), nil
}

// maxTokenResponseSize bounds a token endpoint's answer, as x/oauth2 does.
const maxTokenResponseSize = 1 << 20

// answerError is the *ResponseError for an error answer, with its hint.
func (s *Source) answerError(u *url.URL, resp *http.Response, body []byte, now time.Time, secrets []string) error {
	e := responseError(http.MethodPost, u, resp, body, now, secrets)
	s.hint(e)
	return withRetryAfter(e)
}

// maxListed is how many names of a discovery document's list an error shows.
const maxListed = 10

// clientSecret returns the secret, reading the file again if there is one.
func (s *Source) clientSecret() (string, error) {
	if s.secretFile == "" {
		return s.secret, nil
	}
	return s.readSecretFile()
}

func (s *Source) readSecretFile() (string, error) {
	return secretfile.ReadValue("client secret file", s.secretFile, maxSecretFileSize)
}

// assertionAud is the "aud" of an assertion for endpoint: see
// Config.AssertionAudience.
func (s *Source) assertionAud(endpoint string) string {
	switch s.assertionAudience {
	case "", AudienceTokenEndpoint:
		return endpoint
	case AudienceIssuer:
		s.mu.Lock()
		defer s.mu.Unlock()
		return setting.OrDefault(s.docIssuer, s.issuerAsGiven)
	}
	return s.assertionAudience
}

// assertion signs a private_key_jwt client assertion for endpoint.
func (s *Source) assertion(endpoint string) (string, error) {
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	now := s.now()
	a, err := s.signer.Sign(map[string]any{
		"iss": s.clientID,
		"sub": s.clientID,
		"aud": s.assertionAud(endpoint),
		"jti": base64.RawURLEncoding.EncodeToString(jti[:]),
		"iat": now.Unix(),
		"exp": now.Add(AssertionLifetime).Unix(),
	})
	if err != nil {
		return "", names.Wrap(s.fromEnv, s.credential, err)
	}
	return a, nil
}

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
	endpoint, issuer, err := s.discover(ctx)
	if err != nil {
		return "", err
	}
	s.endpoint, s.docIssuer = endpoint, issuer
	return endpoint, nil
}

// discover reads the token endpoint, and the issuer as the document
// names it, from the issuer's OpenID Connect discovery document (OpenID
// Connect Discovery 1.0, section 4).
func (s *Source) discover(ctx context.Context) (endpoint, issuer string, err error) {
	u, _ := url.Parse(s.discovery)
	where := "oidc: GET " + idperr.URL(u)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.discovery, nil)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", where, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return "", "", fmt.Errorf("%s: no answer: %w", where, cerr)
		}
		return "", "", idperr.Scrubbed(err, where+": "+idperr.Scrub(err.Error(), nil))
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscoverySize+1))
	if err != nil {
		return "", "", fmt.Errorf("%s: reading the answer: %w", where, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := responseError(http.MethodGet, u, resp, body, s.now(), nil)
		if e.StatusCode == http.StatusNotFound {
			e.Check = []string{names.Of("Issuer", s.fromEnv)}
			e.Hint = fmt.Sprintf("no discovery document: check %s, or set %s to the token endpoint instead", e.Check[0], names.Of("TokenURL", s.fromEnv))
		}
		return "", "", withRetryAfter(e)
	}
	if len(body) > maxDiscoverySize {
		return "", "", fmt.Errorf("%s: the answer is larger than %d bytes: not a discovery document", where, maxDiscoverySize)
	}
	var doc struct {
		Issuer        string   `json:"issuer"`
		TokenEndpoint string   `json:"token_endpoint"`
		AuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", "", fmt.Errorf("%s: not a discovery document (a JSON object): %v", where, err)
	}
	issuerSetting := names.Of("Issuer", s.fromEnv)
	if strings.TrimSuffix(doc.Issuer, "/") != s.issuer {
		return "", "", &headers.ConfigError{Setting: issuerSetting,
			Err: fmt.Errorf("%s: the document names the issuer %s, not %s: set %s to the issuer exactly as the identity provider names it",
				where, setting.Quote(doc.Issuer), setting.Quote(s.issuer), issuerSetting)}
	}
	if doc.TokenEndpoint == "" {
		return "", "", fmt.Errorf("%s: the document names no token_endpoint", where)
	}
	c := Config{AllowHTTP: s.allowHTTP, fromEnv: s.fromEnv}
	if err := c.checkURL(doc.TokenEndpoint); err != nil {
		return "", "", fmt.Errorf("%s: token_endpoint: %w", where, err)
	}
	if len(doc.AuthMethods) > 0 && !slices.Contains(doc.AuthMethods, s.method) {
		return "", "", &headers.ConfigError{Setting: names.Of("AuthMethod", s.fromEnv),
			Err: fmt.Errorf("the identity provider does not support %s; it supports %s", s.method, idperr.List(doc.AuthMethods, maxListed))}
	}
	return doc.TokenEndpoint, doc.Issuer, nil
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
	redact.Format(f, verb, s)
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
