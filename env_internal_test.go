package temporalauth

import (
	"fmt"
	"strings"
	"testing"
	"unicode"

	"github.com/temporalauth/temporalauth/azure"
	"github.com/temporalauth/temporalauth/jwtkey"
	"github.com/temporalauth/temporalauth/static"
)

// fuzzVars are the variables FuzzParseEnv sets, in the order of its
// arguments.
var fuzzVars = []string{
	EnvProvider, EnvLeeway, jwtkey.EnvKeyFile, jwtkey.EnvKey, jwtkey.EnvKeyID, jwtkey.EnvPermissions, jwtkey.EnvPermissionsClaim,
	jwtkey.EnvAudience, jwtkey.EnvExpiration, static.EnvToken, static.EnvTokenFile, "TEMPORAL_AUTH_SCOPE",
	"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_MANAGED_IDENTITY",
}

// fuzzSecrets are the positions in fuzzVars of values that must never be
// shown.
var fuzzSecrets = []int{3, 9, 14}

// FuzzParseEnv feeds random values to the variables that choose a provider
// and to the chosen source's ConfigFromLookup, which read no file and make
// no request. It must never panic; an error must name a variable and must
// not show a token, a private key or a client secret, and neither may any
// fmt verb of the Config read. Seeds are in testdata/fuzz/FuzzParseEnv.
func FuzzParseEnv(f *testing.F) {
	f.Add("", "", "/k.pem", "", "", "default:write", "", "", "", "", "", "", "", "", "", "")
	f.Add("jwt", "30s", "", "-----BEGIN PRIVATE KEY-----\\nMIG\\n-----END PRIVATE KEY-----", "kid1", "a:read, b:Admin", "roles", "x,y", "1h", "", "", "", "", "", "", "")
	f.Add("azure", "5m", "", "", "", "", "", "", "", "", "", "api://t/.default", "c", "t", "Secr3tValueXYZ", "")
	f.Add("", "", "", "", "", "", "", "", "", "", "", "api://t", "", "", "", "user")
	f.Add("STATIC", "1m", "", "", "", "", "", "", "", "Tok3nVALUEabc", "", "", "", "", "", "")
	f.Add("none", "0", "", "", "", "", "", "", "", "", "/tok", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, provider, leeway, keyFile, key, keyID, perms, claim, aud, exp, token, tokenFile, scope, clientID, tenant, secret, managed string) {
		values := []string{provider, leeway, keyFile, key, keyID, perms, claim, aud, exp, token, tokenFile, scope, clientID, tenant, secret, managed}
		env := make(map[string]string, len(values))
		for i, v := range values {
			if v != "" {
				env[fuzzVars[i]] = v
			}
		}
		lookup := func(name string) (string, bool) {
			v, ok := env[name]
			return strings.TrimSpace(v), ok
		}
		c, err := choose(lookup)
		if err == nil {
			var cfg any
			switch c.kind() {
			case KindJWT:
				cfg, err = jwtkey.ConfigFromLookup(lookup)
			case KindAzure:
				cfg, err = azure.ConfigFromLookup(lookup)
			case KindStatic:
				cfg, err = static.ConfigFromLookup(lookup)
			case KindNone:
			default:
				t.Fatalf("choose chose %q", c.kind())
			}
			if err == nil {
				printed := fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg)
				for _, i := range fuzzSecrets {
					if distinctive(values[i]) && strings.Contains(printed, strings.TrimSpace(values[i])) {
						t.Fatalf("printed config shows %s", fuzzVars[i])
					}
				}
				return
			}
		}
		msg := err.Error()
		if !strings.Contains(msg, "TEMPORAL_") && !strings.Contains(msg, "AZURE_") {
			t.Fatalf("error names no variable: %q", msg)
		}
		for _, i := range fuzzSecrets {
			v := strings.TrimSpace(values[i])
			if !distinctive(v) || shownElsewhere(v, i, values) {
				continue
			}
			if strings.Contains(msg, v) {
				t.Fatalf("error shows %s: %q", fuzzVars[i], msg)
			}
		}
	})
}

// distinctive reports whether v is long and mixed enough that it cannot
// appear by chance in this package's fixed error text: at least 8
// characters with a digit, an upper-case and a lower-case letter.
func distinctive(v string) bool {
	return len(v) >= 8 && strings.ContainsFunc(v, unicode.IsDigit) &&
		strings.ContainsFunc(v, unicode.IsUpper) && strings.ContainsFunc(v, unicode.IsLower)
}

// shownElsewhere reports whether v is part of another variable's value,
// which errors may quote.
func shownElsewhere(v string, skip int, values []string) bool {
	for i, other := range values {
		if i != skip && strings.Contains(other, v) {
			return true
		}
	}
	return false
}
