#!/usr/bin/env bash
# Print the host state the local cluster touches — links, addresses, routes,
# iptables rules of every table, mounts, sysctls, daemons, pod cgroups and
# hard-coded host paths — so that a snapshot before `cluster-up` and one after
# `cluster-down` can be diffed: they must be equal.
#   hack/cluster/host-state.sh > before; make cluster-up cluster-down; hack/cluster/host-state.sh | diff before -
set -uo pipefail
echo "## links";     ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort
echo "## addresses"; ip -o addr show | awk '{print $2, $3, $4}' | sort
echo "## routes";    ip route show table all | grep -v '^local\|^broadcast\|^multicast\|fe80::\|^ff00::' | sort
for t in iptables ip6tables; do for tb in filter nat mangle raw; do
  echo "## $t -t $tb"; $t -t $tb -S 2>/dev/null | sort
done; done
echo "## mounts";    awk '{print $5, $9}' /proc/self/mountinfo | grep -v '^/proc/\|^/sys/' | sort
echo "## sysctl";    echo "ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)"
echo "## daemons";   ps -eo comm= | grep -xE 'containerd|containerd-shim.*|etcd|kube-apiserver|kube-controller|kube-scheduler|kubelet|kube-proxy|coredns|pause|chathub' | sort | uniq -c
echo "## netns";     ls /run/netns 2>/dev/null | sort
echo "## cgroups";   find /sys/fs/cgroup/*/kubepods -maxdepth 0 -type d 2>/dev/null | sort
echo "## host paths"; for p in /var/log/containers /var/log/pods /var/lib/kubelet /var/lib/cni /run/containerd; do [ -e $p ] && echo $p; done
