package azure

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// appCredential gets tokens for an app registration with MSAL's confidential
// client and the client-credentials grant.
type appCredential struct {
	client confidential.Client
	scopes []string
	cert   *x509.Certificate // the certificate of a certificate credential, else nil
}

// newAppCredential builds MSAL's confidential client for cfg's tenant and
// client ID with cred.
func newAppCredential(cfg Config, cred confidential.Credential, hc *recordingClient, extra ...confidential.Option) (*appCredential, error) {
	host, err := cfg.authorityHostURL()
	if err != nil {
		return nil, err
	}
	authority := strings.TrimSuffix(host.String(), "/") + "/" + cfg.TenantID
	opts := []confidential.Option{
		confidential.WithHTTPClient(hc),
		confidential.WithCache(emptyTokenCache{}),
		// Instance discovery asks Entra ID whether an authority host it does
		// not know is trusted before any credential is sent to it.
		confidential.WithInstanceDiscovery(!cfg.DisableInstanceDiscovery),
	}
	client, err := confidential.New(authority, cfg.ClientID, cred, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("azure: client %s in tenant %s: %w", cfg.ClientID, cfg.TenantID, err)
	}
	return &appCredential{client: client, scopes: append([]string(nil), cfg.Scopes...)}, nil
}

func (c *appCredential) acquire(ctx context.Context) (result, error) {
	r, err := c.client.AcquireTokenByCredential(ctx, c.scopes)
	if err != nil {
		return result{}, err
	}
	return result{token: r.AccessToken, expiresOn: r.ExpiresOn, refreshOn: r.Metadata.RefreshOn}, nil
}

// emptyTokenCache is the cache accessor of every confidential client: MSAL
// loads its token cache from it before each read and write, and it always
// loads an empty one. So AcquireTokenByCredential never answers from MSAL's
// cache and every Token call reaches Entra ID.
//
// The headers.Provider in front is the cache. It calls Token only when it
// wants a token it does not have: the first one, a refresh inside its
// leeway or at refresh_in, or a replacement for a token the server
// rejected. MSAL's cache would answer all of these with the token the
// Provider already holds until five minutes before expiry, and its own
// refresh at refresh_in runs in a goroutine whose errors nobody sees.
//
// Only tokens are dropped: the authority's metadata (instance discovery
// and the OpenID configuration) is kept by the client outside the token
// cache, so it is fetched once per client, not per token.
type emptyTokenCache struct{}

// emptyCacheContract is MSAL's serialized form of a cache without entries.
var emptyCacheContract = []byte("{}")

func (emptyTokenCache) Replace(_ context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	return u.Unmarshal(emptyCacheContract)
}

func (emptyTokenCache) Export(context.Context, cache.Marshaler, cache.ExportHints) error {
	return nil
}
