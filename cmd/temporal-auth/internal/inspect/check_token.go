package inspect

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/temporalauth/temporalauth/jwtkey"
)

func (a *analysis) checkScheme() {
	switch {
	case a.in.APIKey && a.in.Scheme == "":
		a.add(OK, "scheme", "TEMPORAL_API_KEY: the temporal CLI sends it as \"authorization: Bearer <token>\"")
	case strings.EqualFold(a.in.Scheme, "bearer"):
		a.add(OK, "scheme", "sent as \"authorization: %s <token>\" (the scheme is case-insensitive)", a.in.Scheme)
	case a.in.Scheme == "":
		a.add(Info, "scheme", "bare token: send it as \"authorization: Bearer <token>\" (a headers provider, or the temporal CLI's --api-key / TEMPORAL_API_KEY); a header without the Bearer scheme is rejected")
	default:
		a.fail("scheme", fmt.Sprintf("scheme %q is not Bearer", a.in.Scheme),
			"scheme %q: the server accepts only \"authorization: Bearer <token>\"", a.in.Scheme)
	}
}

// algNotes explains why an algorithm is refused.
var algNotes = map[string]string{
	"none":  "an unsigned token is never accepted",
	"HS256": "HMAC (shared-secret) tokens are not accepted: the server verifies only signatures by keys of its JWKS",
	"HS384": "HMAC (shared-secret) tokens are not accepted: the server verifies only signatures by keys of its JWKS",
	"HS512": "HMAC (shared-secret) tokens are not accepted: the server verifies only signatures by keys of its JWKS",
	"PS256": "RSA-PSS is not accepted: sign with RS256 (PKCS #1 v1.5 padding)",
	"PS384": "RSA-PSS is not accepted: sign with RS256 (PKCS #1 v1.5 padding)",
	"PS512": "RSA-PSS is not accepted: sign with RS256 (PKCS #1 v1.5 padding)",
	"RS384": "only RS256 is accepted for RSA keys",
	"RS512": "only RS256 is accepted for RSA keys",
	"ES384": "only ES256 (P-256) is accepted for ECDSA keys",
	"ES512": "only ES256 (P-256) is accepted for ECDSA keys",
	"EdDSA": "EdDSA (Ed25519) is not accepted",
}

func (a *analysis) checkAlg() {
	v, ok := a.header["alg"]
	alg, isString := v.(string)
	switch {
	case !ok:
		a.fail("alg", "no alg header", "no alg header: the server accepts RS256 and ES256 only")
	case !isString:
		a.fail("alg", "alg is not a string", "alg is a %s, not a string", jsonType(v))
	case alg == jwtkey.AlgRS256 || alg == jwtkey.AlgES256:
		a.alg = alg
		a.add(OK, "alg", "%s is accepted (the server accepts RS256 and ES256 only)", alg)
	default:
		note := algNotes[alg]
		if note == "" {
			note = "unknown algorithm"
		}
		a.fail("alg", fmt.Sprintf("alg %s is not accepted", alg), "%s is not accepted: %s; the server accepts RS256 and ES256 only", alg, note)
	}
}

func (a *analysis) checkKid() {
	v, ok := a.header["kid"]
	kid, isString := v.(string)
	switch {
	case !ok:
		a.fail("kid", "no kid header", "no kid header: the server needs it to pick the key from its JWKS")
	case !isString:
		a.fail("kid", "kid is not a string", "kid is a %s, not a string: the server needs a string to pick the key from its JWKS", jsonType(v))
	case kid == "":
		a.fail("kid", "kid is empty", "kid is empty: it must name a key of the server's JWKS")
	default:
		a.kid = kid
		a.add(OK, "kid", "%q", kid)
	}
}

func (a *analysis) checkSignature() {
	tok := a.in.Token
	sig, err := base64.RawURLEncoding.DecodeString(tok[strings.LastIndexByte(tok, '.')+1:])
	switch {
	case err != nil:
		a.fail("sig", "malformed signature", "the signature segment is not base64url without padding")
		return
	case len(sig) == 0:
		a.fail("sig", "no signature", "the token has no signature")
		return
	case a.alg == jwtkey.AlgES256 && len(sig) != 64:
		a.fail("sig", "malformed ES256 signature",
			"the ES256 signature is %d bytes, want 64 (R || S); an ASN.1 DER signature, as crypto/ecdsa.SignASN1 makes, is not a JWS signature", len(sig))
		return
	case a.alg == jwtkey.AlgRS256 && len(sig)*8 < jwtkey.MinRSABits:
		a.fail("sig", "RS256 signature too short", "the RS256 signature is %d bytes: an RSA key of at least %d bits makes at least %d", len(sig), jwtkey.MinRSABits, jwtkey.MinRSABits/8)
		return
	}
	set := a.opts.KeySet
	switch {
	case set == nil:
		a.add(Info, "sig", "signature not checked: give --jwks with the server's JWKS (URL or file) to verify it and find the kid")
		return
	case a.alg == "" || a.kid == "":
		a.add(Info, "sig", "signature not checked: no usable alg and kid")
		return
	}
	key, found, other := set.lookup(a.alg, a.kid)
	if !found {
		switch reason, skipped := set.skipped(a.kid); {
		case skipped:
			a.fail("sig", fmt.Sprintf("key %q of the JWKS cannot be used", a.kid),
				"kid %q is in the JWKS (%s) but its key cannot verify %s tokens: %s", a.kid, set.Source, a.alg, reason)
		case other != nil:
			a.fail("sig", fmt.Sprintf("kid %q names a %s key, the token is %s", a.kid, other.KeyType, a.alg),
				"kid %q names a %s key in the JWKS (%s), but the token is %s: the server finds no key", a.kid, other.KeyType, set.Source, a.alg)
		default:
			have := "it has no keys"
			if ids := set.KeyIDs(); len(ids) > 0 {
				have = "it has " + quoteAll(ids)
			}
			a.fail("sig", fmt.Sprintf("kid %q is not in the JWKS", a.kid),
				"kid %q is not in the JWKS (%s; %s), so a server reading it will reject this token: "+
					"if the key is new, publish it and wait one refresh interval of the server before signing with it; "+
					"otherwise the token was signed with another key, or this is not the server's JWKS: "+
					"compare the signer's kid (temporal-auth jwks KEYFILE prints it) and the server's keySourceURIs",
				a.kid, set.Source, have)
		}
		return
	}
	pub, err := key.PublicKey()
	if err != nil { // ParseKeySet only keeps keys that decode
		a.fail("sig", fmt.Sprintf("key %q of the JWKS cannot be used", a.kid), "key %q of the JWKS cannot be used: %v", a.kid, err)
		return
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{a.alg}), jwt.WithoutClaimsValidation())
	_, err = parser.Parse(tok, func(*jwt.Token) (any, error) { return pub, nil })
	switch {
	case err == nil:
		a.r.Verified = true
		a.add(OK, "sig", "signature verified with key %q of the JWKS (%s)", a.kid, set.Source)
		a.add(Info, "sig", "checked: the kid is published in this JWKS now. Not checked: whether the server has fetched it "+
			"(it reads its keySourceURIs at start and every refreshInterval, and refuses a kid it has not fetched)")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		a.fail("sig", "the signature does not verify",
			"the signature does not verify with key %q of the JWKS (%s): the token was signed with another key or altered", a.kid, set.Source)
	default:
		a.fail("sig", "the signature cannot be verified", "the signature cannot be verified: %v", err)
	}
}
