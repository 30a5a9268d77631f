#!/usr/bin/env bash
# Builds Ory Hydra, the OAuth 2.0 / OpenID Connect server the end-to-end tests
# use as a real identity provider, into tools/hydra/bin/hydra and prints the
# binary's absolute path on stdout (progress goes to stderr).
#
# The version is pinned by tools/hydra/go.mod and go.sum. The first build
# takes a few minutes; later runs reuse the Go build cache and take seconds.
# Hydra's SQLite driver needs cgo, so a C compiler must be installed.
set -euo pipefail
cd "$(dirname "$0")/../tools/hydra"
export PATH="$PATH:/usr/local/go/bin"

out="$PWD/bin/hydra"
mkdir -p bin
start=$(date +%s)
# sqlite: Hydra's persister for file DSNs (used by tests that restart it);
# sqlite_omit_load_extension: no dlopen from the SQLite driver.
version=$(go list -m -f '{{.Version}}' github.com/ory/hydra/v2)
CGO_ENABLED=1 go build -tags sqlite,sqlite_omit_load_extension \
	-ldflags "-X github.com/ory/hydra/v2/driver/config.Version=$version" \
	-o "$out" github.com/ory/hydra/v2
echo "build-hydra: hydra $version ready in $(($(date +%s) - start))s" >&2
echo "$out"
