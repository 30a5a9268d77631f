#!/usr/bin/env bash
# Runs every check CI runs: formatting, vet, the library's tests under the
# race detector, a short run of each fuzz target, and the end-to-end tests
# against a real embedded Temporal server in the examples module (with Ory
# Hydra, built by scripts/build-hydra.sh, as a real OAuth 2.0 server).
#
#   scripts/test.sh            everything
#   SKIP_E2E=1 scripts/test.sh the library only (no Temporal server build)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH 2>/dev/null)/bin"

step() { printf '\n== %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

modules=(.)
[ -f examples/go.mod ] && [ -z "${SKIP_E2E:-}" ] && modules+=(examples)
[ -f bench/go.mod ] && modules+=(bench)

step "go vet"
for m in "${modules[@]}"; do (cd "$m" && go vet ./...); done

step "library tests (race detector)"
go test -race -count=1 ./...

step "fuzz targets (${FUZZTIME:=10s} each)"
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
		echo "-- $pkg $target"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
	done
done

if [ -d bench ] && [ -f bench/go.mod ]; then
	step "benchmark module tests"
	(cd bench && go test -count=1 ./...)
fi

if [ -f serverauth/go.mod ] && [ -z "${SKIP_E2E:-}" ]; then
	step "serverauth: module versions match examples (one build cache serves both)"
	scripts/check-module-versions.sh examples serverauth
	step "serverauth: vet; key provider tests under the race detector"
	# serverauth/serveropts links the whole Temporal server, too large to
	# build with -race in CI's time; it only wires the provider into
	# server options, and its test runs without the race detector.
	(cd serverauth && go vet ./... && go test -race -count=1 . && go test -count=1 ./serveropts/)
fi

if [[ " ${modules[*]} " == *" examples "* ]]; then
	step "Ory Hydra, the identity provider of the end-to-end tests"
	TEMPORALAUTH_HYDRA=$(scripts/build-hydra.sh)
	export TEMPORALAUTH_HYDRA

	step "end-to-end tests against an embedded Temporal server"
	# The server is too large to build with the race detector inside CI's
	# time; the library code it exercises ran under -race above.
	# TestSoak runs for ${TEMPORALAUTH_SOAK} (set it to 10m for the long soak).
	(cd examples && TEMPORALAUTH_SOAK="${TEMPORALAUTH_SOAK:-60s}" go test -count=1 -timeout 30m ./...)

	step "end-to-end benchmark, two iterations (BENCHMARKS.md figure 5 runs it longer)"
	(cd examples && go test -count=1 -run '^$' -bench '^BenchmarkE2E$' -benchtime 2x ./e2e/)
fi
