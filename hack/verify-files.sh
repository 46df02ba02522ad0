#!/usr/bin/env bash
# Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0
#
# Fails when a tracked file is larger than 1 MiB (except under a testdata/ folder) or is
# an executable binary (ELF, Mach-O or PE), whatever its size or place. Build outputs
# belong in bin/ (ignored), test fixtures in testdata/.
#
# Usage: hack/verify-files.sh    (run from anywhere inside the repository)
set -euo pipefail

cd "$(git rev-parse --show-toplevel)"
max=$((1024 * 1024))
bad=()
while IFS= read -r -d '' f; do
	[[ -f $f && ! -L $f ]] || continue # deleted in the work tree, or a symbolic link
	size=$(stat -c %s -- "$f")
	if ((size > max)) && [[ ! $f =~ (^|/)testdata/ ]]; then
		bad+=("$f: $size bytes, more than 1 MiB outside testdata/")
	fi
	((size >= 4)) || continue
	magic=$(head -c 4 -- "$f" | od -An -tx1 | tr -d ' \n')
	kind=""
	case $magic in
		7f454c46) kind=ELF ;;
		feedface | feedfacf | cefaedfe | cffaedfe) kind=Mach-O ;;
		cafebabe | bebafeca) kind="Mach-O universal" ;;
		4d5a*) # MZ: a PE file when the offset at 0x3c points at "PE\0\0".
			if ((size >= 64)); then
				off=$(od -An -tu4 -j 60 -N 4 -- "$f" | tr -d ' ')
				if ((off + 4 <= size)) && [[ $(od -An -tx1 -j "$off" -N 4 -- "$f" | tr -d ' \n') == 50450000 ]]; then
					kind=PE
				fi
			fi
			;;
	esac
	if [[ -n $kind ]]; then
		bad+=("$f: $kind executable binary")
	fi
done < <(git ls-files -z --cached)

if ((${#bad[@]} > 0)); then
	echo "Tracked files that do not belong in the repository (build into bin/, keep fixtures in testdata/):"
	printf '  %s\n' "${bad[@]}"
	exit 1
fi
