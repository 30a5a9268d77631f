package azure_test

import (
	"fmt"
	"log"
	"os"

	"go.temporal.io/sdk/client"

	"github.com/temporalauth/temporalauth/azure"
	"github.com/temporalauth/temporalauth/headers"
)

// A worker or starter that authenticates to a Temporal server with Entra ID
// tokens, configured from the environment (see the package documentation).
func ExampleNewProvider() {
	cfg, err := azure.ConfigFromLookup(os.LookupEnv)
	if err != nil {
		log.Fatal(err) // names the variables at fault
	}
	hp, err := azure.NewProvider(cfg, headers.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer hp.Close()

	c, err := client.Dial(client.Options{
		HostPort:        "temporal.example.com:7233",
		Namespace:       "default",
		HeadersProvider: hp, // sends "authorization: Bearer <Entra ID token>"
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
}

// Settings can come from anywhere through ConfigFromLookup; a Config prints
// without its secret, and errors name the variable at fault.
func ExampleConfigFromLookup() {
	env := map[string]string{
		"AZURE_TENANT_ID":     "contoso.onmicrosoft.com",
		"AZURE_CLIENT_ID":     "00000000-0000-0000-0000-000000000001",
		"AZURE_CLIENT_SECRET": "not-to-be-printed",
		"TEMPORAL_AUTH_SCOPE": "api://temporal-server/.default",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	cfg, err := azure.ConfigFromLookup(lookup)
	fmt.Println(cfg, err)

	env["AZURE_AUTHORITY_HOST"] = "http://login.microsoftonline.com/"
	_, err = azure.ConfigFromLookup(lookup)
	fmt.Println(err)
	// Output:
	// azure.Config{TenantID: "contoso.onmicrosoft.com", ClientID: "00000000-0000-0000-0000-000000000001", Scopes: ["api://temporal-server/.default"], ClientSecret: REDACTED} <nil>
	// AZURE_AUTHORITY_HOST: "http://login.microsoftonline.com/": the identity provider must be reached over https, not http
}
