package azure

import (
	"context"
	"fmt"
	"strings"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// appCredential gets tokens for an app registration with MSAL's confidential
// client and the client-credentials grant.
type appCredential struct {
	client confidential.Client
	scopes []string
}

// newAppCredential builds MSAL's confidential client for cfg's tenant and
// client ID with cred.
func newAppCredential(cfg Config, cred confidential.Credential, hc *recordingClient) (*appCredential, error) {
	host, err := authorityHostURL(cfg.AuthorityHost, fieldNames)
	if err != nil {
		return nil, err
	}
	authority := strings.TrimSuffix(host.String(), "/") + "/" + cfg.TenantID
	opts := []confidential.Option{confidential.WithHTTPClient(hc)}
	if !isKnownCloudHost(host.Hostname()) {
		// Instance discovery asks login.microsoftonline.com whether the
		// authority is trusted; a private or test authority is not known there.
		opts = append(opts, confidential.WithInstanceDiscovery(false))
	}
	client, err := confidential.New(authority, cfg.ClientID, cred, opts...)
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
