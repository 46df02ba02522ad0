#!/usr/bin/env bash
# Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0
#
# Starts or stops the local OCI registry (bin/ociregistry, hack/imgtool/cmd/ociregistry)
# the local cluster's containerd can pull from: plain HTTP on a loopback address, state
# (blobs, manifest journal, log, pid) in REGISTRY_DIR. `up` is idempotent; `down` stops
# only the process whose pid it recorded.
#
# Usage: OCIREGISTRY=bin/ociregistry REGISTRY_ADDR=127.0.0.1:5001 REGISTRY_DIR=.cache/registry \
#        hack/cluster/registry.sh up|down
set -euo pipefail

: "${OCIREGISTRY:?}" "${REGISTRY_ADDR:?}" "${REGISTRY_DIR:?}"
pidfile=$REGISTRY_DIR/ociregistry.pid
log() { echo "registry: $*" >&2; }

# running: the recorded pid is alive and is our registry binary.
running() {
	[[ -f $pidfile ]] || return 1
	local pid exe
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
	[[ $(basename "${exe% (deleted)}") == ociregistry* ]]
}

answers() { curl -fsS -o /dev/null "http://$REGISTRY_ADDR/v2/"; }

case ${1:-} in
up)
	mkdir -p "$REGISTRY_DIR"
	if running; then
		log "already running (pid $(<"$pidfile")) on http://$REGISTRY_ADDR"
		exit 0
	fi
	if answers 2>/dev/null; then
		log "something else already answers on $REGISTRY_ADDR; stop it or pick REGISTRY_ADDR="
		exit 1
	fi
	# Its own session: a Ctrl-C of the make that started it does not reach it.
	nohup setsid "$OCIREGISTRY" -listen "$REGISTRY_ADDR" -dir "$REGISTRY_DIR" >>"$REGISTRY_DIR/ociregistry.log" 2>&1 &
	echo $! >"$pidfile"
	for _ in $(seq 40); do
		if answers 2>/dev/null; then
			log "up (pid $(<"$pidfile")) on http://$REGISTRY_ADDR, state in $REGISTRY_DIR"
			exit 0
		fi
		running || break
		sleep 0.25
	done
	log "did not come up; the end of $REGISTRY_DIR/ociregistry.log:"
	tail -n 20 "$REGISTRY_DIR/ociregistry.log" >&2
	if running; then kill "$(<"$pidfile")"; fi
	rm -f "$pidfile"
	exit 1
	;;
status)
	running
	;;
down)
	if ! running; then
		log "not running"
		rm -f "$pidfile"
		exit 0
	fi
	pid=$(<"$pidfile")
	kill "$pid"
	for _ in $(seq 40); do
		kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; log "stopped (pid $pid)"; exit 0; }
		sleep 0.25
	done
	log "pid $pid did not stop within 10 s"
	exit 1
	;;
*)
	echo "usage: $0 up|down|status" >&2
	exit 2
	;;
esac
