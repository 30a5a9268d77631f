package azure

import (
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// secretCredential authenticates an app registration with a client secret.
type secretCredential struct {
	*appCredential
	secret string
}

func newSecretCredential(cfg Config, hc *recordingClient) (*secretCredential, error) {
	cred, err := confidential.NewCredFromSecret(cfg.ClientSecret)
	if err != nil {
		return nil, cfg.errorf("ClientSecret", "%v", err)
	}
	app, err := newAppCredential(cfg, cred, hc)
	if err != nil {
		return nil, err
	}
	return &secretCredential{appCredential: app, secret: cfg.ClientSecret}, nil
}

func (c *secretCredential) secrets() []string { return []string{c.secret} }
