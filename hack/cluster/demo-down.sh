#!/usr/bin/env bash
# `make demo-down`: stop the demo's port-forward, delete the sample ChatHub
# and uninstall the operator. The cluster keeps running (`make cluster-down`).
set -uo pipefail
. "$(dirname "$0")/env.sh"
[ -d "$CLUSTER_DIR" ] || exit 0
CLUSTER_DIR=$(cd "$CLUSTER_DIR" && pwd)
. "$(dirname "$0")/env.sh"
pidfile=$CLUSTER_DIR/pids/port-forward-demo.pid
if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null; rm -f "$pidfile"; log "port-forward stopped"; fi
if pid_alive kube-apiserver; then
  export KUBECONFIG=$KUBECONFIG_ADMIN
  ns=$(awk '/^metadata:/{m=1;next} m && /^  namespace:/{print $2; exit} m && /^[^ ]/{m=0}' "${DEMO_SAMPLE:-$HACK_CLUSTER/demo-chathub.yaml}")
  $K -n "${ns:-${DEMO_NAMESPACE:-chathub-demo}}" delete -f "${DEMO_SAMPLE:-$HACK_CLUSTER/demo-chathub.yaml}" --ignore-not-found --wait --timeout=60s >/dev/null
  "${HELM:?set HELM}" uninstall "${OPERATOR_RELEASE:-chathub-operator}" -n "${OPERATOR_NAMESPACE:-chathub-system}" --wait >/dev/null 2>&1
  log "demo removed (the ChatHub CRD stays)"
fi
