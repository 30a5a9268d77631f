package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckServer(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join("internal", "servercheck", "testdata", "seed.yaml")
	r := runCLI(t, nil, "", "check-server", "--config", seed)
	r.want(t, exitFailure)
	for _, want := range []string{"CRITICAL no-audience-shared-keys", "WARNING no-refresh-interval", "FAIL: 1 critical"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("seed: stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.stderr != "" {
		t.Errorf("stderr %q", r.stderr)
	}

	good := writeFile(t, dir, "good.yaml", `global:
  authorization:
    jwtKeyProvider:
      keySourceURIs:
        - https://login.microsoftonline.com/aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa/discovery/v2.0/keys
      refreshInterval: 1m
    permissionsClaimName: roles
    authorizer: default
    claimMapper: default
    audience: cccccccc-3333-4333-8333-cccccccccccc
`)
	r = runCLI(t, nil, "", "check-server", "--config", good)
	r.want(t, exitOK)
	if !strings.Contains(r.stdout, "OK: no findings.") {
		t.Errorf("good: %s", r.stdout)
	}

	// A warning passes, unless --strict.
	warn := writeFile(t, dir, "warn.yaml", "global:\n  authorization:\n    jwtKeyProvider:\n      keySourceURIs: [https://idp.example/jwks]\n      refreshInterval: 1m\n    authorizer: default\n    claimMapper: default\n")
	runCLI(t, nil, "", "check-server", "--config", warn).want(t, exitOK)
	runCLI(t, nil, "", "check-server", "--config", warn, "--strict").want(t, exitFailure)

	// The Docker image's variables.
	env := map[string]string{
		"TEMPORAL_JWT_KEY_SOURCE1":       "https://login.microsoftonline.com/common/discovery/v2.0/keys",
		"TEMPORAL_JWT_PERMISSIONS_CLAIM": "roles", "TEMPORAL_AUTH_AUTHORIZER": "default", "TEMPORAL_AUTH_CLAIM_MAPPER": "default",
	}
	r = runCLI(t, env, "", "check-server", "--env")
	r.want(t, exitFailure)
	if !strings.Contains(r.stdout, "no variable for the audience") {
		t.Errorf("--env: %s", r.stdout)
	}

	runCLI(t, nil, "", "check-server").want(t, exitUsage)
	runCLI(t, nil, "", "check-server", "--env", "--config", good).want(t, exitUsage)
	runCLI(t, nil, "", "check-server", "--config", good, "extra").want(t, exitUsage)
	r = runCLI(t, nil, "", "check-server", "--config", filepath.Join(dir, "missing.yaml"))
	r.want(t, exitFailure)
	if !strings.Contains(r.stderr, `--config "`+filepath.Join(dir, "missing.yaml")+`"`) {
		t.Errorf("stderr %q", r.stderr)
	}
}

// readmeEntraConfig returns the Entra ID server configuration README.md
// gives, as its sh block writes it.
func readmeEntraConfig(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const start = "cat > entra-auth.yaml <<'EOF'\n"
	_, rest, ok := strings.Cut(string(data), start)
	yaml, _, ok2 := strings.Cut(rest, "\nEOF\n")
	if !ok || !ok2 {
		t.Fatalf("README.md has no block starting %q and ending with EOF", start)
	}
	return yaml + "\n"
}

// The README's Entra ID configuration comes out clean; the same without
// its audience, as the README configured it before, is critical.
func TestCheckServerREADME(t *testing.T) {
	dir := t.TempDir()
	conf := readmeEntraConfig(t)
	r := runCLI(t, nil, "", "check-server", "--config", writeFile(t, dir, "readme.yaml", conf))
	r.want(t, exitOK)
	if !strings.Contains(r.stdout, "OK: no findings.") {
		t.Errorf("the README's configuration:\n%s", r.stdout)
	}
	var old []string
	for _, line := range strings.Split(conf, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "audience:") {
			old = append(old, line)
		}
	}
	if len(old) != strings.Count(conf, "\n") {
		t.Fatalf("no audience line in the README's configuration:\n%s", conf)
	}
	r = runCLI(t, nil, "", "check-server", "--config", writeFile(t, dir, "old.yaml", strings.Join(old, "\n")))
	r.want(t, exitFailure)
	if !strings.Contains(r.stdout, "CRITICAL no-audience-shared-keys: global.authorization.audience") {
		t.Errorf("without audience:\n%s", r.stdout)
	}
}
