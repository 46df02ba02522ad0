#!/usr/bin/env bash
# Runs every Go fuzz target in the module briefly: FUZZTIME inputs each
# (default 20000x), or for a duration if FUZZTIME is one (e.g. 30s).
# go test -fuzz takes one target of one package at a time, hence the loop.
#
# The default is a count, not a duration: with a duration, Go's fuzz
# coordinator (before go1.27) can fail a target with a bare "context deadline
# exceeded" when the deadline fires while a worker is still mid-input on a busy
# machine (golang/go#75804). A count has no deadline to race. A real finding
# still fails the run and writes its input under testdata/fuzz/.
set -euo pipefail
fuzztime=${1:-20000x}
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
n=0
while IFS= read -r file; do
  pkg=./$(dirname "$file")
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
    echo "fuzz: $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1 || {
      cat "$log"; echo "fuzz: $target in $pkg failed"; exit 1; }
    n=$((n + 1))
  done
done < <(git ls-files --cached --others --exclude-standard '*_test.go' | xargs grep -l '^func Fuzz' 2>/dev/null | sort)
echo "fuzz: $n targets ran for $fuzztime each, no failures"
