#!/usr/bin/env bash
# Exit 0 when this checkout's local cluster is up (every daemon running and
# the API server ready), 1 otherwise. `make test-e2e` asks before it brings
# the cluster up, so that it takes down only a cluster it started.
set -uo pipefail
. "$(dirname "$0")/env.sh"
[ -d "$CLUSTER_DIR" ] || exit 1
CLUSTER_DIR=$(cd "$CLUSTER_DIR" && pwd)
. "$(dirname "$0")/env.sh"
healthy
