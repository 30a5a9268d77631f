package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/temporalauth/temporalauth/azure/entratest"
)

// clientCredentialsToken gets a token from tenant tn of the test identity
// provider with the client-credentials grant.
func clientCredentialsToken(t *testing.T, idp *entratest.Server, tn *entratest.Tenant, client, secret, scope string) string {
	t.Helper()
	resp, err := idp.Client().PostForm(tn.TokenURL(), url.Values{
		"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret}, "scope": {scope},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("token from %s: status %d, %v", tn.ID(), resp.StatusCode, err)
	}
	return body.AccessToken
}

// A token from another Entra tenant, signed with the keys the cluster
// trusts: inspect warns while no audience is checked, and --entra-tenant
// refuses it as serverauth does.
func TestInspectOtherTenant(t *testing.T) {
	idp := entratest.NewServer()
	defer idp.Close()
	home := idp.HomeTenant()
	server := home.RegisterApp(entratest.App{IdentifierURIs: []string{"api://temporal-server-v2"}, AccessTokenAcceptedVersion: 2})
	home.RegisterClient(entratest.Client{ID: "worker", Secret: "wsecret", Roles: []string{"default:write"}})
	other := idp.AddTenant("")
	other.RegisterApp(entratest.App{IdentifierURIs: []string{"api://temporal-server-v2"}})
	other.RegisterClient(entratest.Client{ID: "intruder", Secret: "isecret", Roles: []string{"temporal-system:admin"}})

	intruder := clientCredentialsToken(t, idp, other, "intruder", "isecret", "api://temporal-server-v2/.default")
	worker := clientCredentialsToken(t, idp, home, "worker", "wsecret", server.AppID+"/.default")

	// No audience asked for: the stock server accepts it; inspect says so,
	// and warns.
	r := runCLI(t, nil, intruder, "inspect", "--jwks", home.HTTPKeysURL(), "--claim-name", "roles")
	r.want(t, exitOK)
	r.noToken(t, intruder)
	for _, want := range []string{`iss     "https://sts.windows.net/` + other.ID() + `/"`, `tid     "` + other.ID() + `"`,
		"warn  tenant", "its keys sign the tokens of every Entra ID tenant", "VERDICT: ACCEPTED"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("inspect without --audience lacks %q:\n%s", want, r.stdout)
		}
	}
	// The server app's application ID as the audience refuses it.
	r = runCLI(t, nil, intruder, "inspect", "--jwks", home.HTTPKeysURL(), "--claim-name", "roles", "--audience", server.AppID)
	r.want(t, exitFailure)
	if !strings.Contains(r.stdout, "REJECTED: aud does not contain") || strings.Contains(r.stdout, "warn  tenant") {
		t.Errorf("inspect --audience <app ID>:\n%s", r.stdout)
	}
	// The Application ID URI as the audience does not: the other tenant
	// registered the same one. inspect accepts and warns.
	r = runCLI(t, nil, intruder, "inspect", "--claim-name", "roles", "--audience", "api://temporal-server-v2")
	r.want(t, exitOK)
	if !strings.Contains(r.stdout, "an Application ID URI is unique only within a tenant") {
		t.Errorf("inspect --audience <URI>:\n%s", r.stdout)
	}
	// The home tenant's issuers, as serverauth binds them, refuse it.
	r = runCLI(t, nil, intruder, "inspect", "--claim-name", "roles", "--entra-tenant", home.Authority())
	r.want(t, exitFailure)
	if !strings.Contains(r.stdout, "FAIL  iss") || !strings.Contains(r.stdout, "serverauth refuses the token") {
		t.Errorf("inspect --entra-tenant home:\n%s", r.stdout)
	}

	// The home tenant's worker passes every check, without a warning.
	r = runCLI(t, nil, worker, "inspect", "--jwks", home.HTTPKeysURL(), "--claim-name", "roles",
		"--audience", server.AppID, "--entra-tenant", home.Authority(), "--need", "default:write")
	r.want(t, exitOK)
	if !strings.Contains(r.stdout, `ok    iss     "`+home.Issuer()+`" is an allowed issuer`) || strings.Contains(r.stdout, "warn") {
		t.Errorf("inspect of the home worker:\n%s", r.stdout)
	}
	runCLI(t, nil, worker, "inspect", "--claim-name", "roles", "--issuer", home.Issuer()).want(t, exitOK)
	runCLI(t, nil, worker, "inspect", "--claim-name", "roles", "--issuer", home.Issuer()+"/").want(t, exitFailure)

	r = runCLI(t, nil, worker, "inspect", "--entra-tenant", "common")
	r.want(t, exitUsage)
	if !strings.Contains(r.stderr, `"common" names no tenant`) {
		t.Errorf("stderr %q", r.stderr)
	}
}
