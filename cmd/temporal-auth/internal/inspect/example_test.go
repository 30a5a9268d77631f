package inspect_test

import (
	"encoding/base64"
	"fmt"
	"os"
	"time"

	"github.com/temporalauth/temporalauth/cmd/temporal-auth/internal/inspect"
)

// A token that has expired and whose only role is worker.
func ExampleAnalyze() {
	enc := base64.RawURLEncoding.EncodeToString
	token := enc([]byte(`{"alg":"ES256","kid":"key-1","typ":"JWT"}`)) + "." +
		enc([]byte(`{"sub":"worker-1","exp":1799999700,"iat":1799999000,"nbf":1799999000,"permissions":["default:worker"]}`)) + "." +
		enc(make([]byte, 64))

	in, err := inspect.ParseInput("authorization: Bearer " + token)
	if err != nil {
		fmt.Println(err)
		return
	}
	report := inspect.Analyze(in, inspect.Options{Now: time.Unix(1_800_000_000, 0)})
	if err := report.WriteText(os.Stdout); err != nil {
		fmt.Println(err)
	}
	fmt.Println("accepted:", report.Accepted())
	// Output:
	// Checked as a Temporal server's default JWT claim mapper and default authorizer would, at 2027-01-15T08:00:00Z (this machine's clock).
	// header  {"alg":"ES256","kid":"key-1","typ":"JWT"}
	// claims  {"sub":"worker-1","exp":1799999700,"iat":1799999000,"nbf":1799999000,"permissions":["default:worker"]}
	//
	//   ok    scheme  sent as "authorization: Bearer <token>" (the scheme is case-insensitive)
	//   ok    alg     ES256 is accepted (the server accepts RS256 and ES256 only)
	//   ok    kid     "key-1"
	//   info  sig     signature not checked: give --jwks with the server's JWKS (URL or file) to verify it and find the kid
	//   FAIL  exp     2027-01-15T07:55:00Z: expired 5m ago; lifetime 11m40s from iat (the server: "Token is expired")
	//   ok    iat     2027-01-15T07:43:20Z: 16m40s ago (a server clock up to 16m40s behind this one accepts it)
	//   ok    nbf     2027-01-15T07:43:20Z: 16m40s ago (a server clock up to 16m40s behind this one accepts it)
	//   info  aud     not set: fine unless the server has an audience mapper (temporal.WithAudienceGetter), which then rejects the token
	//   ok    sub     "worker-1"
	//   ok    perms   "permissions": an array of 1 entry
	//   FAIL  access  the token grants no access: the default authorizer denies every call but health checks (PERMISSION_DENIED "Request unauthorized.")
	//
	// roles from the "permissions" claim (roles OR-ed per namespace; temporal-system roles apply everywhere):
	//   namespace  in token  effective  allows
	//   default    worker    worker     nothing: worker alone allows no API (read is the weakest requirement)
	//   a call needs: polling task queues and starting workflows = write; describe/list = read;
	//   registering a namespace = temporal-system:admin or admin on it; worker alone grants nothing.
	//
	// VERDICT: REJECTED: expired 5m ago; the token grants no access
	// accepted: false
}
