package azure

import (
	"context"
	"sync"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/temporalauth/temporalauth/internal/secretfile"
)

// maxFederatedTokenSize bounds the federated token file; a projected service
// account token is a few kilobytes.
const maxFederatedTokenSize = 64 << 10

// federatedCredential authenticates an app registration with a token from a
// trusted issuer (workload identity federation): the content of a file that
// the platform keeps fresh, such as the service account token AKS projects
// into the pod, is sent as the client assertion.
type federatedCredential struct {
	*appCredential
	path string

	mu   sync.Mutex
	last string // the assertion most recently read, to keep it out of errors
}

func newFederatedCredential(cfg Config, hc *recordingClient) (*federatedCredential, error) {
	c := &federatedCredential{path: cfg.FederatedTokenFile}
	if _, err := c.read(); err != nil {
		return nil, err
	}
	app, err := newAppCredential(cfg, confidential.NewCredFromAssertionCallback(c.assertion), hc)
	if err != nil {
		return nil, err
	}
	c.appCredential = app
	return c, nil
}

// assertion is MSAL's assertion callback. It is called only when MSAL goes to
// the identity provider, so the file is read again every time: a rotated
// token is used as soon as it is written.
func (c *federatedCredential) assertion(context.Context, confidential.AssertionRequestOptions) (string, error) {
	return c.read()
}

// read returns the trimmed content of the federated token file.
func (c *federatedCredential) read() (string, error) {
	tok, err := secretfile.ReadValue("federated token file", c.path, maxFederatedTokenSize)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.last = tok
	c.mu.Unlock()
	return tok, nil
}

func (c *federatedCredential) secrets() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return []string{c.last}
}
