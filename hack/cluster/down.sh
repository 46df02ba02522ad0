#!/usr/bin/env bash
# Take the local cluster down and leave nothing behind: every process it
# started (by recorded pid, never by name), every pod, mount, network
# namespace, link, route, address, iptables rule and chain, cgroup and
# hard-coded host path it created. The PKI and logs stay in $CLUSTER_DIR for
# the next `up` and for post-mortems; runtime state is wiped.
set -uo pipefail
. "$(dirname "$0")/env.sh"
[ -d "$CLUSTER_DIR" ] || { log "nothing to take down"; exit 0; }
CLUSTER_DIR=$(cd "$CLUSTER_DIR" && pwd)
. "$(dirname "$0")/env.sh"
W=$CLUSTER_DIR
cd $W

# stop NAME SECONDS: TERM the recorded pid, wait, then KILL.
stop() {
  local f=pids/$1.pid p
  [ -f $f ] || return 0
  p=$(cat $f)
  if kill -0 $p 2>/dev/null; then
    kill $p 2>/dev/null
    for _ in $(seq $(($2 * 5))); do kill -0 $p 2>/dev/null || break; sleep 0.2; done
    kill -0 $p 2>/dev/null && kill -9 $p 2>/dev/null
  fi
  rm -f $f
}

# Port-forwards started by `make demo` or the e2e tests.
for f in pids/port-forward*.pid; do [ -f "$f" ] && stop "$(basename "$f" .pid)" 2; done
stop kubelet 10
stop kube-proxy 5
stop kube-scheduler 5
stop kube-controller-manager 5

# Kill every pod process through containerd while it is still up.
if pid_alive containerd; then
  for t in $($CTR tasks ls -q 2>/dev/null); do $CTR tasks kill -a -s SIGKILL $t >/dev/null 2>&1; done
  for _ in $(seq 25); do [ -z "$($CTR tasks ls 2>/dev/null | awk 'NR>1 && $3=="RUNNING"')" ] && break; sleep 0.2; done
  for t in $($CTR tasks ls -q 2>/dev/null); do $CTR tasks delete -f $t >/dev/null 2>&1; done
  for c in $($CTR containers ls -q 2>/dev/null); do $CTR containers delete $c >/dev/null 2>&1; done
fi
stop kube-apiserver 5
stop etcd 5
stop containerd 5
# Shims left by a crashed containerd are ours when their -address is our socket.
for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $W/run/containerd.sock" 2>/dev/null); do kill -9 $p 2>/dev/null; done

# Mounts under the state folder (overlay rootfs, netns, secret tmpfs), deepest first.
for m in $(awk -v w="$W/" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
  umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
done

# Links (their routes go with them), the node address, and veths of pods whose
# namespaces are gone but whose host ends linger on our bridge.
for v in $(ip -o link show master $POD_BRIDGE 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do ip link del "$v" 2>/dev/null; done
ip link del $POD_BRIDGE 2>/dev/null
ip link del $SINK_BRIDGE 2>/dev/null
ip route del $SVC_CIDR 2>/dev/null
ip route del $POD_RANGE 2>/dev/null
ip addr del $NODE_IP/32 dev lo 2>/dev/null

# iptables: jumps into KUBE-*/CNI-* chains from built-in chains, then the chains.
for t in iptables ip6tables; do
  for tb in nat filter mangle raw; do
    $t -t $tb -S 2>/dev/null | grep -E '^-A [A-Z]+ .*-j (KUBE-|CNI-)' | grep -vE '^-A (KUBE-|CNI-)' | sed 's/^-A/-D/' |
      while read -r rule; do eval "$t -t $tb $rule" 2>/dev/null; done
    chains=$($t -t $tb -S 2>/dev/null | awk '/^-N (KUBE-|CNI-)/ {print $2}')
    for ch in $chains; do $t -t $tb -F $ch 2>/dev/null; done
    for ch in $chains; do $t -t $tb -X $ch 2>/dev/null; done
  done
done
while iptables -D FORWARD -i $POD_BRIDGE ! -o $POD_BRIDGE -m comment --comment $GUARD_COMMENT -j DROP 2>/dev/null; do :; done
conntrack -D -s $POD_RANGE >/dev/null 2>&1
conntrack -D -d $SVC_CIDR >/dev/null 2>&1

# cgroups of pods (cgroupfs driver, v1 hierarchies).
find /sys/fs/cgroup/*/kubepods -depth -type d -exec rmdir {} \; 2>/dev/null

# Host paths kubelet, containerd and the CNI plugins write outside $W, removed
# only when up.sh found them absent.
if [ -f created-host-paths ]; then
  while read -r p; do rm -rf -- "$p"; done < created-host-paths
  rm -f created-host-paths
fi
find /var/log/containers -maxdepth 1 -type l -lname "$W/*" -delete 2>/dev/null

[ -f host-ip_forward ] && cat host-ip_forward > /proc/sys/net/ipv4/ip_forward && rm -f host-ip_forward

rm -rf etcd-data containerd kubelet-root cni/ipam imported run pids kubecache
log "down"
