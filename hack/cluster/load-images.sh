#!/usr/bin/env bash
# Import the docker tarballs of $IMAGES_DIR into the cluster's containerd
# (namespace k8s.io, where the CRI looks). A tarball whose checksum matches
# the last import is skipped, so this is cheap to run on every `make demo`.
# Prints the names of the images that changed, one per line.
set -euo pipefail
. "$(dirname "$0")/env.sh"

[ -S "$CLUSTER_DIR/run/containerd.sock" ] || { log "containerd is not running; run 'make cluster-up'"; exit 1; }
mkdir -p "$CLUSTER_DIR/imported"
shopt -s nullglob
for tarball in "$IMAGES_DIR"/*.tar; do
  base=$(basename "$tarball" .tar)
  sum=$(sha256sum "$tarball" | cut -d' ' -f1)
  if [ "$(cat "$CLUSTER_DIR/imported/$base.sha256" 2>/dev/null)" = "$sum" ]; then
    continue
  fi
  $CTR images import "$tarball" >/dev/null
  echo "$sum" > "$CLUSTER_DIR/imported/$base.sha256"
  log "imported $base"
  echo "$base"
done
