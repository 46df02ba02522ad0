# Shared settings of the local cluster scripts (sourced by up.sh, down.sh,
# load-images.sh). Every value can be overridden from the environment; the
# Makefile (hack/make/cluster.mk) passes the folders.

CLUSTER_DIR=${CLUSTER_DIR:?set CLUSTER_DIR to the state folder, e.g. .cache/cluster}
K8S_BIN=${K8S_BIN:-bin/k8s}          # kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy
ETCD=${ETCD:-$K8S_BIN/etcd}
IMAGES_DIR=${IMAGES_DIR:-bin/images}  # *.tar docker tarballs imported into containerd
KUBECTL=${KUBECTL:-kubectl}
REGISTRY_ADDR=${REGISTRY_ADDR:-127.0.0.1:5001}  # the local OCI registry (make registry-up), plain HTTP
HACK_CLUSTER=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Addresses. The node address lives on lo (no dummy links here; kubelet
# refuses loopback node IPs, so it is a /32 of our own on lo). Pods get the
# bridge below; services a virtual range that only kube-proxy's NAT rules use.
NODE_NAME=${NODE_NAME:-chathub-node}
NODE_IP=${NODE_IP:-10.123.0.1}
POD_CIDR=${POD_CIDR:-10.124.0.0/24}
POD_RANGE=10.124.0.0/16               # routed to the sink: never leaves the machine
SVC_CIDR=${SVC_CIDR:-10.96.0.0/16}
API_SVC_IP=10.96.0.1
DNS_IP=${DNS_IP:-10.96.0.10}
ETCD_CLIENT_PORT=${ETCD_CLIENT_PORT:-23790}   # off the default 2379: envtest etcds of other tests may run
ETCD_PEER_PORT=${ETCD_PEER_PORT:-23800}

# Names of what we create on the host, so that down.sh removes exactly these.
POD_BRIDGE=chcni0          # the CNI bridge of the pods
SINK_BRIDGE=chsink         # an empty bridge: un-NATed service/pod traffic is dropped there
GUARD_COMMENT=chathub-cluster-guard

CTR="ctr --address $CLUSTER_DIR/run/containerd.sock -n k8s.io"
export KUBECACHEDIR=$CLUSTER_DIR/kubecache
KUBECONFIG_ADMIN=$CLUSTER_DIR/kubeconfig
K="$KUBECTL --kubeconfig $KUBECONFIG_ADMIN"

# The daemons, in start order; down.sh stops them in reverse.
COMPONENTS="containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy"

log() { printf '[cluster] %s\n' "$*" >&2; }

# pid_alive NAME: the daemon recorded in pids/NAME.pid is running.
pid_alive() {
  local f=$CLUSTER_DIR/pids/$1.pid
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

# healthy: every daemon of this checkout's cluster runs and the API server is ready.
healthy() {
  for c in $COMPONENTS; do pid_alive $c || return 1; done
  $K get --raw /readyz >/dev/null 2>&1
}

# ---- ownership: one cluster per machine, recorded outside the checkout ----
# The node address, the ports, the bridges and the kubepods cgroups are the
# machine's, so only one checkout's cluster can run. up.sh records who owns
# it in $OWNER_FILE (in /run: a reboot ends the cluster and the record), so
# that another checkout can tell whose cluster it meets, and take it down
# when its checkout is gone. Lines: key=value, then "pid NAME PID STARTTIME".
OWNER_DIR=${CLUSTER_OWNER_DIR:-/run/chathub-cluster}
OWNER_FILE=$OWNER_DIR/owner
CHECKOUT=${CHECKOUT:-$(cd "$HACK_CLUSTER/../.." && pwd)}

# checkout_alive DIR: DIR is still a checkout that can run its cluster-down
# (a deleted clone may survive as a hollow folder around the mounts of its
# pods, which `rm -rf` cannot remove).
checkout_alive() { [ -f "$1/Makefile" ] && [ -x "$1/hack/cluster/down.sh" ]; }

# owner_get KEY: a value of the owner record ("" when absent).
owner_get() {
  [ -f "$OWNER_FILE" ] || return 0
  awk -F= -v k="$1" '$1==k{sub(/^[^=]*=/, ""); print; exit}' "$OWNER_FILE"
}

# proc_start PID: the process's start time in clock ticks since boot (field
# 22 of /proc/PID/stat), which tells a recorded pid from a reused one.
proc_start() { awk '{sub(/^.*\) /, ""); print $20}' "/proc/$1/stat" 2>/dev/null; }

# owner_record_pid NAME PID: add a started daemon to the owner record.
owner_record_pid() { echo "pid $1 $2 $(proc_start "$2")" >> "$OWNER_FILE"; }

# owner_pids: the recorded daemons still running (same pid, same start time).
owner_pids() {
  [ -f "$OWNER_FILE" ] || return 0
  awk '$1=="pid"{print $3, $4}' "$OWNER_FILE" | while read -r p s; do
    [ -n "$s" ] && [ "$(proc_start "$p")" = "$s" ] && echo "$p"
  done
  return 0
}

# cluster_pids DIR: the processes of the cluster whose state folder is DIR:
# the daemons (started in DIR), the containerd shims and kubectl
# port-forwards (DIR in their command line). Only these names are ever
# considered, so an editor or a shell in DIR is never matched.
cluster_pids() {
  local w=$1 p comm cwd
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = $$ ] && continue
    comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
    case $comm in containerd|containerd-shim*|etcd|kube-*|kubelet|kubectl|coredns) ;; *) continue ;; esac
    cwd=$(readlink "/proc/$p/cwd" 2>/dev/null) || continue
    cwd=${cwd% (deleted)}
    if [ "$cwd" = "$w" ] || tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$w/"; then echo "$p"; fi
  done
  return 0
}

# running_cluster_dirs: the state folders of every local cluster running on
# this machine, recorded or not, found from their daemons' signatures
# (containerd with our config, the API server, kubelet or etcd of our node)
# and their working directory (a state folder whose checkout was deleted
# still shows, marked " (deleted)" by the kernel, which is stripped here).
running_cluster_dirs() {
  local p comm args cwd
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
    case $comm in containerd|etcd|kube-apiserver|kubelet) ;; *) continue ;; esac
    args=$(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null) || continue
    case "$comm $args" in
      "containerd "*"--config containerd/config.toml"* | "etcd "*"--name $NODE_NAME "* | \
      "kube-apiserver "*"--advertise-address=$NODE_IP "* | "kubelet "*"--node-ip=$NODE_IP "*) ;;
      *) continue ;;
    esac
    cwd=$(readlink "/proc/$p/cwd" 2>/dev/null) || continue
    echo "${cwd% (deleted)}"
  done | sort -u
  return 0
}

# pod_pids: the processes of the pods (kubelet's cgroupfs driver puts every
# pod under kubepods in each cgroup v1 hierarchy, or in the v2 tree).
pod_pids() {
  find /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods* -name cgroup.procs 2>/dev/null | xargs -r cat 2>/dev/null | sort -un
  return 0
}

# host_leftovers: what of a local cluster remains on this machine outside
# any state folder (empty when nothing does).
host_leftovers() {
  ip -o addr show dev lo 2>/dev/null | grep -q " $NODE_IP/" && printf 'the node address %s on lo; ' "$NODE_IP"
  ip link show $POD_BRIDGE >/dev/null 2>&1 && printf 'the bridge %s; ' "$POD_BRIDGE"
  ip link show $SINK_BRIDGE >/dev/null 2>&1 && printf 'the bridge %s; ' "$SINK_BRIDGE"
  [ -n "$(pod_pids)" ] && printf '%s pod processes; ' "$(pod_pids | wc -l)"
  iptables -S FORWARD 2>/dev/null | grep -q -- "$GUARD_COMMENT" && printf 'the iptables rule %s; ' "$GUARD_COMMENT"
  true
}
