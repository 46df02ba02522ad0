#!/usr/bin/env bash
# Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0
#
# Checks that every tracked Go file carries the license header of hack/boilerplate.go.txt
# before its package clause (controller-gen writes it after a //go:build line, which is
# fine). With --fix, adds the header as the first line, followed by a blank line, to
# every tracked Go file that lacks it.
#
# Usage: hack/spdx.sh [--fix]    (run from anywhere inside the repository)
set -euo pipefail

fix=false
case "${1:-}" in
	"") ;;
	--fix) fix=true ;;
	*) echo "usage: $0 [--fix]" >&2; exit 2 ;;
esac

cd "$(git rev-parse --show-toplevel)"
header=$(head -n 1 hack/boilerplate.go.txt)

# has_header FILE: the header is a line of FILE before its package clause.
has_header() {
	awk -v h="$header" '$0 == h { found = 1; exit } /^package / { exit } END { exit !found }' "$1"
}

missing=()
while IFS= read -r -d '' f; do
	[[ -f $f ]] || continue # deleted in the work tree, not yet in the index
	has_header "$f" || missing+=("$f")
done < <(git ls-files -z -- '*.go')

if ((${#missing[@]} == 0)); then
	exit 0
fi
if ! $fix; then
	echo "Go files without the license header '$header' (run hack/spdx.sh --fix):"
	printf '  %s\n' "${missing[@]}"
	exit 1
fi
for f in "${missing[@]}"; do
	tmp=$(mktemp "$f.spdx.XXXXXX")
	{ printf '%s\n\n' "$header"; cat "$f"; } >"$tmp"
	chmod --reference="$f" "$tmp"
	mv "$tmp" "$f"
	echo "added the license header to $f"
done
