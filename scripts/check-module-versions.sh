#!/usr/bin/env bash
# Fails when two nested modules of this repository build different versions
# of a module they both compile. Nested modules that embed the Temporal server
# must agree, so that one build cache serves all of them (a cold build of the
# server takes minutes and gigabytes).
#
#   scripts/check-module-versions.sh                  every nested go.mod
#   scripts/check-module-versions.sh examples serverauth   only these
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -gt 0 ]; then
	dirs=("$@")
else
	mapfile -t dirs < <(find . -mindepth 2 -name go.mod -not -path '*/testdata/*' -not -path './.git/*' -printf '%h\n' | sed 's|^\./||' | sort)
fi
if [ ${#dirs[@]} -lt 2 ]; then
	echo "check-module-versions: fewer than two modules to compare (${dirs[*]:-none})"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for d in "${dirs[@]}"; do
	# Path and version of every module that provides a package to the
	# module's packages or tests: what lands in the build cache. (Modules in
	# the build list that provide no package are left out: they are never
	# compiled.) Local replacements (=> ../) have no version and are left out.
	(cd "$d" && go list -deps -test -f '{{with .Module}}{{if not .Main}}{{if .Replace}}{{if .Replace.Version}}{{.Path}} {{.Replace.Version}}{{end}}{{else}}{{.Path}} {{.Version}}{{end}}{{end}}{{end}}' ./...) \
		| sort -u > "$tmp/$(echo "$d" | tr / _)"
done

status=0
for ((i = 0; i < ${#dirs[@]}; i++)); do
	for ((j = i + 1; j < ${#dirs[@]}; j++)); do
		a=${dirs[i]} b=${dirs[j]}
		diffs=$(join "$tmp/$(echo "$a" | tr / _)" "$tmp/$(echo "$b" | tr / _)" | awk '$2 != $3')
		if [ -n "$diffs" ]; then
			echo "check-module-versions: $a and $b select different versions (module $a $b):"
			echo "$diffs" | sed 's/^/  /'
			status=1
		fi
	done
done
[ $status -eq 0 ] && echo "check-module-versions: ${dirs[*]} agree on every shared module"
exit $status
