#!/usr/bin/env bash
# Bring up a real single-node Kubernetes (v1.37, built from Go modules) on
# Debian's containerd, runc and CNI plugins: images come from the docker
# tarballs of $IMAGES_DIR, or from the local OCI registry on $REGISTRY_ADDR
# (make registry-up; containerd pulls from it over plain HTTP). All state
# lives in $CLUSTER_DIR.
#
# Idempotent: when the cluster already runs, it only imports changed images.
# When it is half up (a daemon died), it is taken down and started afresh.
#
# Every packet stays on this machine: the node address is on lo, pods sit on
# a local bridge, the pod and service ranges route to an empty bridge, a
# FORWARD rule drops pod traffic headed anywhere but the pod bridge, and the
# cluster DNS has no upstream.
set -euo pipefail
. "$(dirname "$0")/env.sh"
T0=$(date +%s%N)

[ "$(id -u)" = 0 ] || { log "must run as root (network, mounts, containerd)"; exit 1; }
for b in "$K8S_BIN"/kube-apiserver "$K8S_BIN"/kube-controller-manager "$K8S_BIN"/kube-scheduler "$K8S_BIN"/kubelet "$K8S_BIN"/kube-proxy "$ETCD"; do
  [ -x "$b" ] || { log "missing $b; run 'make cluster-binaries'"; exit 1; }
done
for c in containerd runc ctr iptables ip openssl conntrack; do
  command -v $c >/dev/null || { log "missing $c; run 'make cluster-deps'"; exit 1; }
done
[ -f "$IMAGES_DIR/pause.tar" ] || { log "missing $IMAGES_DIR/pause.tar; run 'make image'"; exit 1; }
mkdir -p "$CLUSTER_DIR"
CLUSTER_DIR=$(cd "$CLUSTER_DIR" && pwd)
. "$(dirname "$0")/env.sh"   # again, with the absolute folder

# ---- one cluster per machine: is another checkout's running here? ----
# refuse DIR: stop with what was found and the command that removes it.
refuse() {
  local d=$1 checkout started daemons pods
  if [ "$d" = "$(owner_get cluster_dir)" ]; then
    checkout=$(owner_get checkout) started=$(owner_get started)
  else
    checkout=${d%/.cache/cluster} started="at an unrecorded time"
  fi
  daemons=$(cluster_pids "$d" | wc -l) pods=$(pod_pids | wc -l)
  if checkout_alive "$checkout"; then
    log "found the local cluster of the checkout $checkout running (state $d, started $started, $daemons daemons and shims, $pods pod processes); one cluster at a time runs on a machine (node address $NODE_IP, its ports, bridges and pod cgroups). Take it down with: make -C $checkout cluster-down   (or from here: make cluster-down ORPHAN=1)"
  else
    log "found a local cluster whose checkout $checkout is gone (state $d, started $started, $daemons daemons and shims, $pods pod processes); one cluster at a time runs on a machine (node address $NODE_IP, its ports, bridges and pod cgroups). Remove it with: make cluster-down ORPHAN=1"
  fi
  exit 3
}
owner_dir=$(owner_get cluster_dir)
[ -n "$owner_dir" ] && [ "$owner_dir" != "$CLUSTER_DIR" ] && refuse "$owner_dir"
for d in $(running_cluster_dirs); do [ "$d" != "$CLUSTER_DIR" ] && refuse "$d"; done
if [ -z "$owner_dir" ] && ! ls "$CLUSTER_DIR"/pids/*.pid >/dev/null 2>&1 && [ -n "$(host_leftovers)" ]; then
  log "found what a local cluster left on this machine, recorded by no checkout: $(host_leftovers | sed 's/; $//'). Remove it with: make cluster-down ORPHAN=1"
  exit 3
fi

# write_owner: record this checkout as the owner of the machine's cluster.
write_owner() {
  mkdir -p "$OWNER_DIR"
  printf 'checkout=%s\ncluster_dir=%s\nstarted=%s\nuser=%s\n' "$CHECKOUT" "$CLUSTER_DIR" \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(id -un)" > "$OWNER_FILE.tmp"
  mv "$OWNER_FILE.tmp" "$OWNER_FILE"
}

if healthy; then
  if [ -z "$owner_dir" ]; then   # started before clusters were recorded
    write_owner
    for c in $COMPONENTS; do owner_record_pid $c "$(cat "$CLUSTER_DIR/pids/$c.pid")"; done
  fi
  "$HACK_CLUSTER"/load-images.sh >/dev/null
  log "already up"
  echo "export KUBECONFIG=$KUBECONFIG_ADMIN"
  exit 0
fi
if { [ -d "$CLUSTER_DIR/pids" ] && ls "$CLUSTER_DIR"/pids/*.pid >/dev/null 2>&1; } || [ -n "$owner_dir" ]; then
  log "half up: taking it down first"
  "$HACK_CLUSTER"/down.sh
fi
write_owner

W=$CLUSTER_DIR
mkdir -p $W/{pki,logs,pids,run,cni/net.d,manifests,pod-logs,containerd,imported}
cd $W

# Paths kubelet, containerd and the CNI plugins hard-code outside $W: down.sh
# removes those that did not exist before.
for p in /var/log/containers /var/log/pods /var/lib/kubelet /var/lib/cni /run/containerd; do
  [ -e $p ] || grep -qxF $p created-host-paths 2>/dev/null || echo $p >> created-host-paths
done
# The owner record keeps them too, for when the state folder is gone.
[ -f created-host-paths ] && sed 's/^/hostpath /' created-host-paths >> "$OWNER_FILE"

# ---- host network: only addresses, links and rules of our own ----
cat /proc/sys/net/ipv4/ip_forward > host-ip_forward     # restored by down.sh
echo "ip_forward=$(cat host-ip_forward)" >> "$OWNER_FILE"
ip addr show dev lo | grep -q " $NODE_IP/" || ip addr add $NODE_IP/32 dev lo
ip link show $SINK_BRIDGE >/dev/null 2>&1 || ip link add $SINK_BRIDGE type bridge
ip link set $SINK_BRIDGE up
# safety net 1: un-NATed service or pod traffic never takes the default route
ip route replace $SVC_CIDR dev $SINK_BRIDGE
ip route replace $POD_RANGE dev $SINK_BRIDGE
# safety net 2: pod traffic is forwarded only back onto the pod bridge
iptables -C FORWARD -i $POD_BRIDGE ! -o $POD_BRIDGE -m comment --comment $GUARD_COMMENT -j DROP 2>/dev/null ||
  iptables -I FORWARD -i $POD_BRIDGE ! -o $POD_BRIDGE -m comment --comment $GUARD_COMMENT -j DROP

# ---- PKI and per-cluster random tokens (created once, kept by down.sh) ----
if [ ! -f pki/tokens.csv ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout pki/ca.key -out pki/ca.crt -days 3650 -subj "/CN=chathub-cluster-ca" 2>/dev/null
  printf 'subjectAltName=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:%s,IP:%s\nextendedKeyUsage=serverAuth\n' $NODE_IP $API_SVC_IP > pki/apiserver.ext
  openssl req -newkey rsa:2048 -nodes -keyout pki/apiserver.key -out pki/apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
  openssl x509 -req -in pki/apiserver.csr -CA pki/ca.crt -CAkey pki/ca.key -CAcreateserial -out pki/apiserver.crt -days 3650 -extfile pki/apiserver.ext 2>/dev/null
  openssl genrsa -out pki/sa.key 2048 2>/dev/null
  openssl rsa -in pki/sa.key -pubout -out pki/sa.pub 2>/dev/null
  tok() { openssl rand -hex 16; }
  umask 077
  cat > pki/tokens.csv.tmp <<T
$(tok),admin,admin,"system:masters"
$(tok),system:kube-controller-manager,kcm
$(tok),system:kube-scheduler,sched
$(tok),system:node:$NODE_NAME,kubelet,"system:nodes"
$(tok),system:kube-proxy,proxy
T
  mv pki/tokens.csv.tmp pki/tokens.csv
  umask 022
fi
kubeconfig() { # kubeconfig FILE UID
  local token; token=$(awk -F, -v u="$2" '$3==u{print $1}' pki/tokens.csv)
  (umask 077; cat > "$1" <<K
apiVersion: v1
kind: Config
clusters: [{name: chathub, cluster: {server: "https://$NODE_IP:6443", certificate-authority: $W/pki/ca.crt}}]
users: [{name: $2, user: {token: $token}}]
contexts: [{name: chathub, context: {cluster: chathub, user: $2}}]
current-context: chathub
K
)
}
kubeconfig $KUBECONFIG_ADMIN admin
for u in kcm sched kubelet proxy; do kubeconfig kubeconfig.$u $u; done

# ---- containerd (Debian 1.6), all paths under $W ----
cat > containerd/config.toml <<C
version = 2
root = "$W/containerd/root"
state = "$W/containerd/state"
[grpc]
  address = "$W/run/containerd.sock"
[ttrpc]
  address = "$W/run/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$W/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  # the sandbox lacks CAP_SYS_RESOURCE: without this, runc init fails on negative oom_score_adj
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$W/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$W/cni/net.d"
  # per-registry hosts.toml files: the local OCI registry (make registry-up) speaks plain HTTP
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$W/containerd/certs.d"
C
# Images named $REGISTRY_ADDR/... are pulled from the local registry over plain HTTP
# (it need not run: nothing is pulled from it unless a pod names it).
mkdir -p "containerd/certs.d/$REGISTRY_ADDR"
cat > "containerd/certs.d/$REGISTRY_ADDR/hosts.toml" <<H
server = "http://$REGISTRY_ADDR"
[host."http://$REGISTRY_ADDR"]
  capabilities = ["pull", "resolve"]
H
cat > cni/net.d/10-bridge.conflist <<N
{"cniVersion": "0.4.0", "name": "chathub", "plugins": [
  {"type": "bridge", "bridge": "$POD_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$W/cni/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}},
  {"type": "loopback"}]}
N

# start NAME CMD...: a daemon in the background, its own pid recorded (not a
# subshell's), here and in the owner record. setsid puts it in a session of
# its own: a Ctrl-C on the terminal of `make demo` (SIGINT to the foreground
# process group) must not reach it. The Go daemons catch SIGINT even when
# the shell started them with it ignored; containerd and kubelet then exit
# and leave their pods running with nobody to stop them.
start() {
  local name=$1; shift
  nohup setsid "$@" > logs/$name.log 2>&1 < /dev/null & echo $! > pids/$name.pid
  owner_record_pid "$name" $!
}
# wait_for WHAT SECONDS CMD...: poll CMD until it succeeds, or fail with the daemon logs' tail.
wait_for() {
  local what=$1 secs=$2; shift 2
  for _ in $(seq $((secs * 4))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  log "timed out waiting for $what"; tail -n 20 logs/*.log >&2; exit 1
}

start containerd containerd --config containerd/config.toml
start etcd "$ETCD" --name $NODE_NAME --data-dir $W/etcd-data \
  --listen-client-urls http://127.0.0.1:$ETCD_CLIENT_PORT --advertise-client-urls http://127.0.0.1:$ETCD_CLIENT_PORT \
  --listen-peer-urls http://127.0.0.1:$ETCD_PEER_PORT --initial-advertise-peer-urls http://127.0.0.1:$ETCD_PEER_PORT \
  --initial-cluster $NODE_NAME=http://127.0.0.1:$ETCD_PEER_PORT --unsafe-no-fsync
wait_for containerd 30 test -S run/containerd.sock
"$HACK_CLUSTER"/load-images.sh >/dev/null

start kube-apiserver "$K8S_BIN"/kube-apiserver --etcd-servers=http://127.0.0.1:$ETCD_CLIENT_PORT \
  --bind-address=$NODE_IP --advertise-address=$NODE_IP --secure-port=6443 \
  --tls-cert-file=pki/apiserver.crt --tls-private-key-file=pki/apiserver.key --client-ca-file=pki/ca.crt \
  --token-auth-file=pki/tokens.csv --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file=pki/sa.pub --service-account-signing-key-file=pki/sa.key \
  --service-cluster-ip-range=$SVC_CIDR --allow-privileged=true --kubelet-preferred-address-types=InternalIP
wait_for kube-apiserver 90 $K get --raw /readyz

start kube-controller-manager "$K8S_BIN"/kube-controller-manager --kubeconfig=kubeconfig.kcm \
  --authentication-kubeconfig=kubeconfig.kcm --authorization-kubeconfig=kubeconfig.kcm --bind-address=$NODE_IP \
  --service-account-private-key-file=pki/sa.key --root-ca-file=pki/ca.crt --use-service-account-credentials=true \
  --leader-elect=false
start kube-scheduler "$K8S_BIN"/kube-scheduler --kubeconfig=kubeconfig.sched \
  --authentication-kubeconfig=kubeconfig.sched --authorization-kubeconfig=kubeconfig.sched --bind-address=$NODE_IP \
  --leader-elect=false

echo "nameserver 127.0.0.1" > resolv.conf   # dnsPolicy=Default pods never see the host's resolver
cat > kubelet-config.yaml <<KC
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$W/run/containerd.sock
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: $NODE_IP
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
clusterDomain: cluster.local
clusterDNS: [$DNS_IP]
resolvConf: $W/resolv.conf
staticPodPath: $W/manifests
podLogsDir: $W/pod-logs
failSwapOn: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
KC
start kubelet "$K8S_BIN"/kubelet --config=kubelet-config.yaml --kubeconfig=kubeconfig.kubelet \
  --hostname-override=$NODE_NAME --node-ip=$NODE_IP --root-dir=$W/kubelet-root --cert-dir=$W/kubelet-root/pki

cat > kube-proxy-config.yaml <<KP
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $W/kubeconfig.proxy}
mode: iptables
clusterCIDR: $POD_RANGE
hostnameOverride: $NODE_NAME
nodePortAddresses: ["$NODE_IP/32"]
metricsBindAddress: $NODE_IP:10249
healthzBindAddress: $NODE_IP:10256
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
KP
start kube-proxy "$K8S_BIN"/kube-proxy --config=kube-proxy-config.yaml

node_ready() { $K get node $NODE_NAME 2>/dev/null | grep -q " Ready " && $K get serviceaccount default >/dev/null 2>&1; }
wait_for "node $NODE_NAME Ready" 120 node_ready

$K apply -f "$HACK_CLUSTER"/coredns.yaml >/dev/null
$K -n kube-system rollout status deployment/coredns --timeout=120s >/dev/null

echo "$(( ($(date +%s%N) - T0) / 1000000 ))" > up-millis
log "up in $(awk '{printf "%.1f", $1/1000}' up-millis)s: node $NODE_NAME Ready, CoreDNS ready"
echo "export KUBECONFIG=$KUBECONFIG_ADMIN"
