package temporalauth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/setting"
)

// A Kind names a token provider: the values of TEMPORAL_AUTH_PROVIDER.
type Kind string

// The providers Load can choose.
const (
	// KindJWT signs tokens with a local private key (package jwtkey).
	KindJWT Kind = "jwt"
	// KindAzure gets Microsoft Entra ID tokens through MSAL (package azure).
	KindAzure Kind = "azure"
	// KindOIDC gets tokens from any OAuth 2.0 / OpenID Connect identity
	// provider with the client-credentials grant (package oidc).
	KindOIDC Kind = "oidc"
	// KindStatic serves a fixed token or a token file (package static).
	KindStatic Kind = "static"
	// KindNone sends no authorization header.
	KindNone Kind = "none"
)

// Auth is the token provider chosen by the environment (see [Load]): a
// client.HeadersProvider for go.temporal.io/sdk that sends the
// "authorization: Bearer <token>" header, or no header for the none
// provider. It is safe for concurrent use; call Close when done.
//
// String and LogValue describe it for a start-up log line, never showing a
// token, key or secret, e.g.
//
//	jwt file=/etc/temporal/worker.pem kid=3x9... alg=ES256 sub=temporalauth permissions=[default:write] expiration=10m0s leeway=default(min(5m,lifetime/4))
//	azure client_id=... tenant=... scopes=[api://temporal-server/.default] credential=client_secret leeway=...
//	static file=/var/run/secrets/temporal/token poll=1m0s leeway=...
//	none
//
// A nil *Auth behaves as the none provider.
type Auth struct {
	kind        Kind
	provider    *headers.Provider // nil for none
	leeway      time.Duration
	dialOptions []grpc.DialOption
	stopMetrics func() // nil without a MetricsHandler
}

// GetHeaders returns the headers to send with a call to the Temporal
// server: the authorization header carrying a valid token, fetched or
// renewed as needed, or no headers (nil) for the none provider. The map is
// shared and must not be modified.
func (a *Auth) GetHeaders(ctx context.Context) (map[string]string, error) {
	if a == nil || a.provider == nil {
		return nil, nil
	}
	return a.provider.GetHeaders(ctx)
}

// Close stops the provider's background work and its metrics; later calls
// to GetHeaders fail. It returns what headers.Provider.Close returns: the
// error of closing the token source, on the first call; an error when a
// call to the source still runs after headers.CloseTimeout; else nil.
// Close is idempotent; it returns nil for the none provider and a nil
// *Auth.
func (a *Auth) Close() error {
	if a == nil || a.provider == nil {
		return nil
	}
	if a.stopMetrics != nil {
		a.stopMetrics()
	}
	return a.provider.Close()
}

// Kind returns the provider chosen.
func (a *Auth) Kind() Kind {
	if a == nil {
		return KindNone
	}
	return a.kind
}

// Provider returns the token cache behind the provider, for
// Provider.Invalidate, Provider.Stats and Provider.RetryUnauthorized, or
// nil for the none provider.
func (a *Auth) Provider() *headers.Provider {
	if a == nil {
		return nil
	}
	return a.provider
}

// DialOptions returns the dial options to append to
// client.Options.ConnectionOptions.DialOptions: the provider's
// RetryUnauthorized, which replaces a token the server rejects and retries
// the call once; one that logs each rejected call at Warn with the kid of
// its token; and with EnvOptions.MetricsHandler, one that counts
// rejections. None for the none provider. [LoadClientOptions] adds them
// itself.
func (a *Auth) DialOptions() []grpc.DialOption {
	if a == nil || a.provider == nil {
		return nil
	}
	return a.dialOptions
}

// String describes the provider and its settings on one line, without any
// secret.
func (a *Auth) String() string {
	var b strings.Builder
	b.WriteString(string(a.Kind()))
	for _, attr := range a.attrs() {
		b.WriteByte(' ')
		b.WriteString(attr.Key)
		b.WriteByte('=')
		switch v := attr.Value.Any().(type) {
		case []string:
			b.WriteString("[" + strings.Join(v, ",") + "]")
		default:
			s := attr.Value.String()
			if setting.HasSpaceOrControl(s) || s == "" {
				s = fmt.Sprintf("%q", s)
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

// GoString describes the provider without any secret, for %#v.
func (a *Auth) GoString() string { return "temporalauth.Auth{" + a.String() + "}" }

// LogValue describes the provider for log/slog without any secret: a group
// with the provider kind and its settings.
func (a *Auth) LogValue() slog.Value {
	return slog.GroupValue(append([]slog.Attr{slog.String("provider", string(a.Kind()))}, a.attrs()...)...)
}

// attrs lists the settings that describe a, in display order: the
// source's own description, then the leeway.
func (a *Auth) attrs() []slog.Attr {
	if a == nil || a.provider == nil {
		return nil
	}
	var out []slog.Attr
	// Asked each time: a replaced key file changes the kid.
	if d, ok := a.provider.Source().(slog.LogValuer); ok {
		if v := d.LogValue().Resolve(); v.Kind() == slog.KindGroup {
			out = append(out, v.Group()...)
		}
	}
	leeway := defaultLeeway
	if a.leeway > 0 {
		leeway = a.leeway.String()
	}
	return append(out, slog.String("leeway", leeway))
}

// defaultLeeway describes the leeway a headers.Provider uses when none is set.
const defaultLeeway = "default(min(5m,lifetime/4))"
