package temporalauth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/temporalauth/temporalauth/azure"
	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/jwtkey"
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
	kind     string
	provider *headers.Provider // nil for none
	leeway   time.Duration

	signer *jwtkey.Source // jwt
	jwt    jwtkey.Config  // jwt, without its key

	azure azure.Config // azure

	tokenFile   string        // static, from a file
	poll        time.Duration // static, from a file
	tokenExpiry time.Time     // static, from TEMPORAL_AUTH_TOKEN
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

// Close stops the provider's background work; later calls to GetHeaders
// fail. Close is idempotent and always returns nil.
func (a *Auth) Close() error {
	if a == nil || a.provider == nil {
		return nil
	}
	return a.provider.Close()
}

// Kind returns the provider chosen: "jwt", "azure", "static" or "none", the
// values of TEMPORAL_AUTH_PROVIDER.
func (a *Auth) Kind() string {
	if a == nil {
		return kindNone
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
// the call once; none for the none provider. [LoadClientOptions] adds them
// itself.
func (a *Auth) DialOptions() []grpc.DialOption {
	if a == nil || a.provider == nil {
		return nil
	}
	return []grpc.DialOption{a.provider.RetryUnauthorized()}
}

// String describes the provider and its settings on one line, without any
// secret.
func (a *Auth) String() string {
	var b strings.Builder
	b.WriteString(a.Kind())
	for _, attr := range a.attrs() {
		b.WriteByte(' ')
		b.WriteString(attr.Key)
		b.WriteByte('=')
		switch v := attr.Value.Any().(type) {
		case []string:
			b.WriteString("[" + strings.Join(v, ",") + "]")
		default:
			s := attr.Value.String()
			if strings.ContainsFunc(s, isSpaceOrControl) || s == "" {
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
	return slog.GroupValue(append([]slog.Attr{slog.String("provider", a.Kind())}, a.attrs()...)...)
}

// attrs lists the settings that describe a, in display order.
func (a *Auth) attrs() []slog.Attr {
	if a == nil || a.kind == kindNone {
		return nil
	}
	var out []slog.Attr
	str := func(k, v string) {
		if v != "" {
			out = append(out, slog.String(k, v))
		}
	}
	list := func(k string, v []string) {
		if len(v) > 0 {
			out = append(out, slog.Any(k, append([]string(nil), v...)))
		}
	}
	switch a.kind {
	case kindJWT:
		str("file", a.jwt.KeyFile)
		// Read from the signer each time: a replaced key file changes them.
		str("kid", a.signer.KeyID())
		str("alg", a.signer.Algorithm())
		str("sub", orDefault(a.jwt.Subject, jwtkey.DefaultSubject))
		str("iss", a.jwt.Issuer)
		list("aud", a.jwt.Audience)
		list("permissions", a.jwt.Permissions)
		if a.jwt.PermissionsClaim != "" && a.jwt.PermissionsClaim != jwtkey.DefaultPermissionsClaim {
			str("claim", a.jwt.PermissionsClaim)
		}
		str("expiration", a.jwt.Expiration.String())
	case kindAzure:
		c := a.azure
		if c.ManagedIdentity.IsZero() {
			str("client_id", c.ClientID)
			str("tenant", c.TenantID)
		}
		list("scopes", c.Scopes)
		switch {
		case !c.ManagedIdentity.IsZero():
			str("credential", "managed_identity")
			str("identity", c.ManagedIdentity.String())
		case c.ClientSecret != "":
			str("credential", "client_secret")
		case c.CertificatePath != "":
			str("credential", "certificate")
			str("certificate", c.CertificatePath)
		case c.FederatedTokenFile != "":
			str("credential", "workload_identity")
			str("federated_token_file", c.FederatedTokenFile)
		}
		str("authority", c.AuthorityHost)
	case kindStatic:
		if a.tokenFile != "" {
			str("file", a.tokenFile)
			str("poll", a.poll.String())
		} else {
			str("env", EnvToken)
			if !a.tokenExpiry.IsZero() {
				str("exp", a.tokenExpiry.UTC().Format(time.RFC3339))
			}
		}
	}
	if a.leeway > 0 {
		str("leeway", a.leeway.String())
	} else {
		str("leeway", defaultLeeway)
	}
	return out
}

// orDefault returns v, or def when v is empty.
func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
