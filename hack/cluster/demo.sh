#!/usr/bin/env bash
# `make demo`: on the running local cluster, install (or upgrade) the operator
# with Helm, apply the sample ChatHub, wait until it is Ready and
# port-forward its chat Service to http://localhost:$DEMO_PORT.
set -euo pipefail
. "$(dirname "$0")/env.sh"
HELM=${HELM:?set HELM}
CHART=${CHART:-charts/chathub-operator}
RELEASE=${OPERATOR_RELEASE:-chathub-operator}
OPERATOR_NS=${OPERATOR_NAMESPACE:-chathub-system}
DEMO_NS=${DEMO_NAMESPACE:-chathub-demo}
DEMO_PORT=${DEMO_PORT:-8080}
SAMPLE=${DEMO_SAMPLE:-$HACK_CLUSTER/demo-chathub.yaml}
IMAGE_TAR=${IMAGES_DIR}/chathub.tar
T0=$(date +%s%N)
CLUSTER_DIR=$(cd "$CLUSTER_DIR" && pwd)
. "$(dirname "$0")/env.sh"
export KUBECONFIG=$KUBECONFIG_ADMIN

changed=$("$HACK_CLUSTER"/load-images.sh)
# The digest of the image tarball on the pod template rolls the operator when
# a rebuilt image was imported under the same tag.
digest=$(sha256sum "$IMAGE_TAR" | cut -c1-16)
log "helm upgrade --install $RELEASE ($OPERATOR_NS)"
"$HELM" upgrade --install "$RELEASE" "$CHART" --namespace "$OPERATOR_NS" --create-namespace \
  --set image.repository=chathub --set image.tag=dev --set image.pullPolicy=IfNotPresent \
  --set-string podAnnotations.chathub\\.dev/image-digest="$digest" \
  --wait --timeout 3m >/dev/null

# A sample that names its namespace keeps it; otherwise it goes to $DEMO_NS.
ns=$(awk '/^metadata:/{m=1;next} m && /^  namespace:/{print $2; exit} m && /^[^ ]/{m=0}' "$SAMPLE")
ns=${ns:-$DEMO_NS}
$K get namespace "$ns" >/dev/null 2>&1 || $K create namespace "$ns" >/dev/null
name=$($K apply -n "$ns" -f "$SAMPLE" -o name | head -n1)
name=${name#*/}
if echo "$changed" | grep -qx chathub; then
  # Chat servers run the same image: restart them onto the new one.
  $K -n "$ns" rollout restart deployment -l app.kubernetes.io/instance="$name" >/dev/null 2>&1 || true
fi
log "waiting for ChatHub $ns/$name to be Ready"
if ! $K -n "$ns" wait --for=condition=Ready "chathub/$name" --timeout=180s >/dev/null; then
  $K -n "$ns" get chathub "$name" -o yaml >&2 || true
  $K -n "$OPERATOR_NS" logs deployment/"$RELEASE" --tail=50 >&2 || true
  exit 1
fi

# The chat Service is named after the ChatHub and serves on port 80.
pidfile=$CLUSTER_DIR/pids/port-forward-demo.pid
if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile"; fi
$K -n "$ns" rollout status deployment/"$name" --timeout=120s >/dev/null
nohup $K -n "$ns" port-forward --address 127.0.0.1 "service/$name" "$DEMO_PORT:80" > "$CLUSTER_DIR/logs/port-forward-demo.log" 2>&1 &
echo $! > "$pidfile"
for _ in $(seq 60); do
  curl -fsS -o /dev/null "http://127.0.0.1:$DEMO_PORT/" 2>/dev/null && break
  kill -0 "$(cat "$pidfile")" 2>/dev/null || { cat "$CLUSTER_DIR/logs/port-forward-demo.log" >&2; exit 1; }
  sleep 0.5
done
curl -fsS -o /dev/null "http://127.0.0.1:$DEMO_PORT/" || { log "the chat does not answer on port $DEMO_PORT"; exit 1; }

secs=$(awk -v n="$(( $(date +%s%N) - T0 ))" 'BEGIN{printf "%.1f", n/1e9}')
cat <<MSG

  The chat of ChatHub $ns/$name is at  http://localhost:$DEMO_PORT
  (open it in two browser windows, pick two names, and chat)

  kubectl:   export KUBECONFIG=$KUBECONFIG_ADMIN
             kubectl get chathubs -A
  stop:      make demo-down      (port-forward, sample and operator; the cluster stays)
             make cluster-down   (everything)

  deployed in ${secs}s
MSG
