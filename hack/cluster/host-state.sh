#!/usr/bin/env bash
# Print the host state the local cluster touches — links, addresses, routes,
# iptables rules of every table, mounts, sysctls, daemons, pod cgroups and
# hard-coded host paths — so that a snapshot before `cluster-up` and one after
# `cluster-down` can be diffed: they must be equal.
#   hack/cluster/host-state.sh > before; make cluster-up cluster-down; hack/cluster/host-state.sh | diff before -
set -uo pipefail
CLUSTER_DIR=${CLUSTER_DIR:-.cache/cluster}
. "$(dirname "$0")/env.sh"
echo "## links";     ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort
echo "## addresses"; ip -o addr show | awk '{print $2, $3, $4}' | sort
echo "## routes";    ip route show table all | grep -v '^local\|^broadcast\|^multicast\|fe80::\|^ff00::' | sort
for t in iptables ip6tables; do for tb in filter nat mangle raw; do
  echo "## $t -t $tb"; $t -t $tb -S 2>/dev/null | sort
done; done
echo "## mounts";    awk '{print $5, $9}' /proc/self/mountinfo | grep -v '^/proc/\|^/sys/' | sort
echo "## sysctl";    echo "ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)"
# The cluster's processes: every process of these names; the etcd and
# kube-apiserver of the node (not the envtest ones other tests run); chathub
# processes of the image's user 65532 (not those of other tests, run as
# root). Then every process in a pod cgroup, whatever its name and user.
echo "## daemons"
for p in /proc/[0-9]*; do
  comm=$(cat "$p/comm" 2>/dev/null) || continue
  # A zombie has exited; init reaps it (the daemons' parent is gone) within seconds.
  [ "$(awk '{sub(/^.*\) /, ""); print $1}' "$p/stat" 2>/dev/null)" = Z ] && continue
  case $comm in
    containerd|containerd-shim*|kube-controller|kube-scheduler|kubelet|kube-proxy|coredns|pause) ;;
    etcd|kube-apiserver) tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -qE -- "--name $NODE_NAME |--advertise-address=$NODE_IP " || continue ;;
    chathub|chathub-data) [ "$(awk '/^Uid:/{print $2}' "$p/status" 2>/dev/null)" = 65532 ] || continue ;;
    *) continue ;;
  esac
  echo "$comm"
done | sort | uniq -c
echo "## pod processes"; for p in $(pod_pids); do echo "$p $(cat /proc/$p/comm 2>/dev/null)"; done
echo "## netns";     ls /run/netns 2>/dev/null | sort
echo "## cgroups";   find /sys/fs/cgroup/*/kubepods -maxdepth 0 -type d 2>/dev/null | sort
echo "## host paths"; for p in /var/log/containers /var/log/pods /var/lib/kubelet /var/lib/cni /run/containerd "$OWNER_DIR"; do [ -e $p ] && echo $p; done
exit 0
