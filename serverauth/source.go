package serverauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// discoverySuffix is what an OpenID Provider serves its configuration at,
// relative to its issuer (OpenID Connect Discovery 1.0, section 4).
const discoverySuffix = "/.well-known/openid-configuration"

// maxRedirects bounds the redirects followed for one request.
const maxRedirects = 5

type sourceKind int

const (
	sourceJWKS   sourceKind = iota // a JWKS at an https:// or loopback http:// URL
	sourceFile                     // a JWKS in a file:// URL
	sourceIssuer                   // an OpenID issuer whose discovery document names the JWKS
)

// source is one configured place keys come from, with the keys it gave
// last time it answered well. The fields from keys on are guarded by the
// provider's mutex.
type source struct {
	kind   sourceKind
	name   string   // the URL as logged: without user info, query or fragment
	u      *url.URL // JWKS or file URL; the issuer URL for sourceIssuer
	issuer string   // sourceIssuer only: the issuer as configured

	// issuers are those allowed to use the source's keys: configured for
	// JWKS and Entra sources, the discovery document's for an issuer
	// (set at each successful fetch). anyIssuer: none are checked.
	issuers   []string
	anyIssuer bool

	keys        []publicKey // last good keys, in JWKS order
	lastSuccess time.Time
	lastErr     string
	fetches     int64
	failures    int64
}

// newJWKSSource checks a JWKS URL: https://, http:// to a loopback host, or
// file:// with an absolute path.
func newJWKSSource(setting, raw string) (*source, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: not a URL: %v", setting, redactURLError(err))
	}
	s := &source{name: displayURL(u), u: u}
	switch strings.ToLower(u.Scheme) {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("%s %q: a file:// URL must not name a host", setting, s.name)
		}
		if u.Path == "" || !strings.HasPrefix(u.Path, "/") {
			return nil, fmt.Errorf("%s %q: a file:// URL needs an absolute path, as in file:///etc/temporal/jwks.json", setting, s.name)
		}
		s.kind = sourceFile
		return s, nil
	case "http", "https":
		if err := checkHTTPURL(u); err != nil {
			return nil, fmt.Errorf("%s %q: %w", setting, s.name, err)
		}
		s.kind = sourceJWKS
		return s, nil
	}
	return nil, fmt.Errorf("%s %q: scheme must be https, http (loopback hosts only) or file", setting, s.name)
}

// newIssuerSource checks an OpenID issuer URL.
func newIssuerSource(setting, issuer string) (*source, error) {
	issuer = strings.TrimSpace(issuer)
	u, err := url.Parse(issuer)
	if err != nil {
		return nil, fmt.Errorf("%s: not a URL: %v", setting, redactURLError(err))
	}
	name := displayURL(u)
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s %q: an issuer has no query or fragment", setting, name)
	}
	if err := checkHTTPURL(u); err != nil {
		return nil, fmt.Errorf("%s %q: %w", setting, name, err)
	}
	return &source{kind: sourceIssuer, name: name, u: u, issuer: issuer}, nil
}

// checkHTTPURL accepts https:// URLs with a host, and http:// URLs whose host
// is a loopback address or "localhost": keys fetched over plain HTTP from
// elsewhere could be replaced on the way.
func checkHTTPURL(u *url.URL) error {
	if u.Host == "" {
		return errors.New("no host")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("http:// is allowed only for loopback hosts (localhost, 127.0.0.0/8, ::1); use https://")
	}
	return errors.New("scheme must be https, or http for a loopback host")
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// displayURL is u without user info, query and fragment, which may carry
// credentials: what logs, errors and Stats show.
func displayURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.ForceQuery = false
	c.Fragment = ""
	c.RawFragment = ""
	return c.String()
}

// redactURLError drops the URL that url.Parse quotes in its errors.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// fetcher reads sources; it is shared by all sources of one provider.
type fetcher struct {
	client   *http.Client
	maxBytes int64
}

// newHTTPClient returns a copy of c (or of a default client) that refuses
// redirects to URLs checkHTTPURL would refuse and stops after maxRedirects.
func newHTTPClient(c *http.Client) *http.Client {
	var out http.Client
	if c != nil {
		out = *c
	} else {
		out.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	inner := out.CheckRedirect
	out.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("more than %d redirects", maxRedirects)
		}
		if err := checkHTTPURL(req.URL); err != nil {
			return fmt.Errorf("redirect to %q refused: %w", displayURL(req.URL), err)
		}
		if inner != nil {
			return inner(req, via)
		}
		return nil
	}
	return &out
}

// fetch reads the keys of s.
func (f *fetcher) fetch(ctx context.Context, s *source) fetchResult {
	var body []byte
	var err error
	var issuer string
	switch s.kind {
	case sourceFile:
		body, err = f.readFile(s.u)
	case sourceJWKS:
		body, err = f.get(ctx, s.u, "application/jwk-set+json, application/json")
	case sourceIssuer:
		var jwksURL *url.URL
		jwksURL, issuer, err = f.discover(ctx, s)
		if err == nil {
			body, err = f.get(ctx, jwksURL, "application/jwk-set+json, application/json")
		}
	}
	if err != nil {
		return fetchResult{err: err}
	}
	keys, skipped, err := parseJWKS(body)
	return fetchResult{keys: keys, skipped: skipped, issuer: issuer, err: err}
}

// discover reads the issuer's OpenID configuration and returns its jwks_uri
// and issuer after checking that the document names the configured issuer.
func (f *fetcher) discover(ctx context.Context, s *source) (*url.URL, string, error) {
	du := *s.u
	du.Path = strings.TrimSuffix(du.Path, "/") + discoverySuffix
	du.RawPath = ""
	body, err := f.get(ctx, &du, "application/json")
	if err != nil {
		return nil, "", err
	}
	var doc struct {
		Issuer  *string `json:"issuer"`
		JWKSURI *string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, "", fmt.Errorf("OpenID configuration at %q is not JSON: %w", displayURL(&du), err)
	}
	if doc.Issuer == nil || doc.JWKSURI == nil {
		return nil, "", fmt.Errorf("OpenID configuration at %q lacks issuer or jwks_uri", displayURL(&du))
	}
	if strings.TrimSuffix(*doc.Issuer, "/") != strings.TrimSuffix(s.issuer, "/") {
		return nil, "", fmt.Errorf("OpenID configuration at %q names issuer %q, want %q: refusing its keys",
			displayURL(&du), truncate(*doc.Issuer, 200), s.name)
	}
	ju, err := url.Parse(*doc.JWKSURI)
	if err != nil {
		return nil, "", fmt.Errorf("OpenID configuration at %q: jwks_uri is not a URL: %v", displayURL(&du), redactURLError(err))
	}
	if err := checkHTTPURL(ju); err != nil {
		return nil, "", fmt.Errorf("OpenID configuration at %q: jwks_uri %q refused: %w", displayURL(&du), displayURL(ju), err)
	}
	return ju, *doc.Issuer, nil
}

// get fetches u and returns its body: status 200 and at most maxBytes.
func (f *fetcher) get(ctx context.Context, u *url.URL, accept string) ([]byte, error) {
	name := displayURL(u)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("GET %q: %v", name, redactURLError(err))
	}
	req.Header.Set("Accept", accept)
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %q: %v", name, redactURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
		return nil, fmt.Errorf("GET %q: HTTP status %d, want 200", name, resp.StatusCode)
	}
	body, err := readLimited(resp.Body, f.maxBytes)
	if err != nil {
		return nil, fmt.Errorf("GET %q: %w", name, err)
	}
	return body, nil
}

func (f *fetcher) readFile(u *url.URL) ([]byte, error) {
	file, err := os.Open(u.Path)
	if err != nil {
		return nil, err // *PathError names the path, which is configuration, not a secret
	}
	defer file.Close()
	body, err := readLimited(file, f.maxBytes)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", u.Path, err)
	}
	return body, nil
}

// readLimited reads r to its end, failing when it holds more than max bytes.
func readLimited(r io.Reader, max int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > max {
		return nil, fmt.Errorf("larger than %d bytes (MaxResponseBytes)", max)
	}
	return body, nil
}

// truncate shortens s to at most n bytes, for quoting values that come from
// outside (token headers, documents) in logs and errors.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
