#!/usr/bin/env bash
# Take the local cluster down and leave nothing behind: every process it
# started (by recorded pid, then every process started in its state folder
# or naming it, never by name alone), every pod process (through containerd,
# then through the kubepods cgroups, whatever state containerd is in), mount,
# network namespace, link, route, address, iptables rule and chain, cgroup
# and hard-coded host path it created. The PKI and logs stay in $CLUSTER_DIR
# for the next `up` and for post-mortems; runtime state is wiped.
#
# Only one cluster runs on a machine; up.sh records its owner in
# $OWNER_FILE. A cluster of another checkout is left alone unless ORPHAN=1,
# or unless that checkout is gone (then nobody else can remove it, and this
# script does, saying so). Exits non-zero when something is left.
set -uo pipefail
. "$(dirname "$0")/env.sh"
ORPHAN=${ORPHAN:-}
mine=""
if [ -d "$CLUSTER_DIR" ]; then
  CLUSTER_DIR=$(cd "$CLUSTER_DIR" && pwd)
  . "$(dirname "$0")/env.sh"
  mine=$CLUSTER_DIR
fi

# running PID: the process runs (a zombie has exited: init reaps the
# daemons, whose parent is gone, only every few seconds).
running() { kill -0 "$1" 2>/dev/null && [ "$(awk '{sub(/^.*\) /, ""); print $1}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

# stop W NAME SECONDS: TERM the pid recorded in W/pids, wait, then KILL.
stop() {
  local f=$1/pids/$2.pid p
  [ -f "$f" ] || return 0
  p=$(cat "$f")
  if running "$p"; then
    kill "$p" 2>/dev/null
    for _ in $(seq $(($3 * 10))); do running "$p" || break; sleep 0.1; done
    running "$p" && kill -9 "$p" 2>/dev/null
  fi
  rm -f "$f"
}

# sweep W: SIGKILL the daemons of the cluster in W that survived (first:
# then no kubelet or containerd restarts a pod), every pod process (found in
# the kubepods cgroups) and, once they are gone and reaped by their shims,
# the shims. A shim killed before its pod reparents the pod to init, where
# nothing would stop it.
sweep() {
  local pods procs p recorded=""
  # The daemons of the owner record (pid and start time checked) count too.
  [ "$1" = "$(owner_get cluster_dir)" ] && recorded=$(owner_pids)
  for p in $(cluster_pids "$1") $recorded; do
    case $(cat "/proc/$p/comm" 2>/dev/null) in containerd-shim*) ;; *) kill -9 "$p" 2>/dev/null ;; esac
  done
  for _ in $(seq 50); do
    pods=$(pod_pids) procs=$(cluster_pids "$1")
    [ -z "$pods$procs" ] && return 0
    if [ -n "$pods" ]; then
      # shellcheck disable=SC2086
      kill -9 $pods 2>/dev/null
    else
      # shellcheck disable=SC2086
      kill -9 $procs 2>/dev/null
    fi
    sleep 0.2
  done
}

# teardown W: take down the cluster whose state folder is W (W may be gone).
teardown() {
  # Every call to containerd is bounded: one whose state folder was partly
  # deleted (a removed checkout) can hang on a task forever.
  local W=$1 CTR="timeout 10 ctr --address $1/run/containerd.sock -n k8s.io" t c m
  # Port-forwards started by `make demo` or the e2e tests, then the daemons
  # that drive pods, gracefully.
  for f in "$W"/pids/port-forward*.pid; do [ -f "$f" ] && stop "$W" "$(basename "$f" .pid)" 2; done
  stop "$W" kubelet 10
  stop "$W" kube-proxy 5
  stop "$W" kube-scheduler 5
  stop "$W" kube-controller-manager 5

  # Kill every pod process through containerd while it is still up.
  if [ -S "$W/run/containerd.sock" ] && timeout 5 ${CTR#timeout 10 } version >/dev/null 2>&1; then
    for t in $($CTR tasks ls -q 2>/dev/null); do $CTR tasks kill -a -s SIGKILL "$t" >/dev/null 2>&1; done
    for _ in $(seq 25); do [ -z "$($CTR tasks ls 2>/dev/null | awk 'NR>1 && $3=="RUNNING"')" ] && break; sleep 0.2; done
    for t in $($CTR tasks ls -q 2>/dev/null); do $CTR tasks delete -f "$t" >/dev/null 2>&1; done
    for c in $($CTR containers ls -q 2>/dev/null); do $CTR containers delete "$c" >/dev/null 2>&1; done
  fi
  stop "$W" kube-apiserver 2   # its graceful shutdown takes a minute; etcd's data is wiped below
  stop "$W" etcd 5
  stop "$W" containerd 5
  # Whatever containerd could not stop (it was dead: a Ctrl-C, a crash, a
  # deleted checkout): pods by cgroup, then shims and daemons by state folder.
  sweep "$W"

  # Mounts under the state folder (overlay rootfs, netns, secret tmpfs), deepest first.
  for m in $(awk -v w="$W/" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
  host_cleanup "$W"
  # Host paths up.sh found absent (listed in W, and in the owner record).
  find /var/log/containers -maxdepth 1 -type l -lname "$W/*" -delete 2>/dev/null
  {
    cat "$W/created-host-paths" 2>/dev/null
    [ "$W" = "$(owner_get cluster_dir)" ] && awk '$1=="hostpath"{print $2}' "$OWNER_FILE"
  } | sort -u | while read -r p; do
    case $p in /var/log/containers|/var/log/pods|/var/lib/kubelet|/var/lib/cni|/run/containerd) rm -rf -- "$p" ;; esac
  done
  if [ -f "$W/host-ip_forward" ]; then
    cat "$W/host-ip_forward" > /proc/sys/net/ipv4/ip_forward && rm -f "$W/host-ip_forward"
  elif [ "$W" = "$(owner_get cluster_dir)" ] && [ -n "$(owner_get ip_forward)" ]; then
    owner_get ip_forward > /proc/sys/net/ipv4/ip_forward
  fi
  if [ -d "$W" ]; then
    rm -f "$W/created-host-paths"
    (cd "$W" && rm -rf etcd-data containerd kubelet-root cni/ipam imported run pids kubecache)
  fi
}

# host_cleanup: the machine-wide part (one cluster per machine): links,
# routes, the node address, iptables chains and rules, conntrack entries,
# pod cgroups.
host_cleanup() {
  local v t tb chains ch
  # Veths of pods whose namespaces are gone but whose host ends linger on our bridge.
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
      for ch in $chains; do $t -t $tb -F "$ch" 2>/dev/null; done
      for ch in $chains; do $t -t $tb -X "$ch" 2>/dev/null; done
    done
  done
  while iptables -D FORWARD -i $POD_BRIDGE ! -o $POD_BRIDGE -m comment --comment $GUARD_COMMENT -j DROP 2>/dev/null; do :; done
  conntrack -D -s $POD_RANGE >/dev/null 2>&1
  conntrack -D -d $SVC_CIDR >/dev/null 2>&1

  # cgroups of pods (cgroupfs driver): empty now, but a killed process
  # leaves its cgroup busy for a moment.
  for _ in $(seq 25); do
    find /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods* -depth -type d -exec rmdir {} \; 2>/dev/null
    [ -z "$(find /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods* -maxdepth 0 -type d 2>/dev/null)" ] && break
    sleep 0.2
  done
}

# left W: what of the cluster in W is still on the machine ("" when nothing).
left() {
  local pods procs cg mounts
  pods=$(pod_pids | tr '\n' ' ') procs=$(cluster_pids "$1" | tr '\n' ' ')
  cg=$(find /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods* -maxdepth 0 -type d 2>/dev/null | tr '\n' ' ')
  mounts=$(awk -v w="$1/" 'index($5, w) == 1' /proc/self/mountinfo | wc -l)
  [ -n "$pods" ] && printf 'pod processes %s; ' "$pods"
  [ -n "$procs" ] && printf 'processes %s; ' "$procs"
  [ -n "$cg" ] && printf 'cgroups %s; ' "$cg"
  [ "$mounts" != 0 ] && printf '%s mounts under %s; ' "$mounts" "$1"
  true
}

# Which clusters to take down: this checkout's, and another's when it is
# gone or ORPHAN=1 (recorded in $OWNER_FILE, or found by its daemons).
owner_dir=$(owner_get cluster_dir)
others=$({ [ -n "$owner_dir" ] && echo "$owner_dir"; running_cluster_dirs; } | sort -u | grep -vxF -- "${mine:-//none}")
targets=""
for d in $others; do
  if [ "$d" = "$owner_dir" ]; then
    checkout=$(owner_get checkout) how="recorded in $OWNER_FILE"
  else
    checkout=${d%/.cache/cluster} how="found by its daemons, not recorded"
  fi
  if [ "$ORPHAN" = 1 ]; then
    log "ORPHAN=1: taking down the cluster of the checkout $checkout (state $d)"
  elif ! checkout_alive "$checkout"; then
    log "the cluster on this machine belongs to the checkout $checkout, which is gone: taking it down (state $d; $how)"
  else
    log "the cluster on this machine belongs to the checkout $checkout (state $d), not to this one: left alone. Take it down with: make -C $checkout cluster-down   (or from here: make cluster-down ORPHAN=1)"
    exit 3
  fi
  targets="$targets $d"
done
[ -n "$mine" ] && targets="$targets $mine"
if [ -z "$targets" ]; then
  leftovers=$(host_leftovers)
  if [ -z "$leftovers" ]; then log "nothing to take down"; exit 0; fi
  if [ "$ORPHAN" != 1 ]; then
    log "no cluster of this checkout, but a local cluster left on this machine: ${leftovers%; }. Remove it with: make cluster-down ORPHAN=1"
    exit 3
  fi
  log "ORPHAN=1: removing what a local cluster left: ${leftovers%; }"
  sweep //none
  host_cleanup
  leftovers=$(host_leftovers)
  [ -z "$leftovers" ] || { log "still left: ${leftovers%; }"; exit 1; }
  log "down"
  exit 0
fi

rc=0
for d in $targets; do
  teardown "$d"
  rest=$(left "$d")$(host_leftovers)
  if [ -n "$rest" ]; then
    log "could not remove everything of the cluster in $d: ${rest%; }"
    rc=1
  elif [ "$d" = "$(owner_get cluster_dir)" ]; then
    rm -f "$OWNER_FILE"
    rmdir "$OWNER_DIR" 2>/dev/null
  fi
done
[ $rc = 0 ] && log "down"
exit $rc
