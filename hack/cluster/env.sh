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
