#!/usr/bin/env bash
# A private Docker engine for the runbook's container backend: start | stop | status.
#
#   eval "$(scripts/docker-engine.sh start)"    # prints: export DOCKER_HOST=unix://.../docker.sock
#   scripts/docker-engine.sh status             # exit 0 when it answers
#   scripts/docker-engine.sh stop               # ends exactly that dockerd and unmounts what it left
#
# The engine is Debian's docker.io (installed with apt-get, with mmdebstrap for the image build, when
# missing and run as root). It runs with no bridge, no NAT and no iptables rules: containers use the
# host network only and the runbook binds them to 127.0.0.1. Its state lives under one folder:
# $RUNBOOK_DOCKER_DIR, else $RUNBOOK_WORK_DIR/../docker, else build/docker (data root, exec root,
# pidfile, socket, log). Idempotent: start on a running engine only prints the export line again.
# Messages go to stderr; stdout carries only the export line, so `eval "$(... start)"` works.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'docker-engine: %s\n' "$*" >&2; }
die() { printf 'docker-engine: ERROR: %s\n' "$*" >&2; exit 1; }

if [ -n "${RUNBOOK_DOCKER_DIR:-}" ]; then
  base=$RUNBOOK_DOCKER_DIR
elif [ -n "${RUNBOOK_WORK_DIR:-}" ]; then
  base=$(dirname "$RUNBOOK_WORK_DIR")/docker
else
  base=build/docker
fi
mkdir -p "$base"
base=$(cd "$base" && pwd -P)
sock=$base/docker.sock
pidfile=$base/dockerd.pid
data_root=$base/data
exec_root=$base/x
log=$base/dockerd.log
[ ${#sock} -lt 100 ] || die "socket path $sock is too long (${#sock} chars): set RUNBOOK_DOCKER_DIR to a shorter folder"
export DOCKER_HOST=unix://$sock

answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
running_pid() {
  local pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

ensure_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "${missing[*]} missing and not root: run 'sudo apt-get install ${missing[*]}', then 'sudo $0 start'"
  fi
  say "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

unmount_leftovers() {
  # Whatever dockerd left mounted under its roots (overlay layers, netns, shm), deepest first.
  local m
  { awk '{print $5}' /proc/self/mountinfo | grep -E "^($data_root|$exec_root)(/|$)" || true; } | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "could not unmount $m"
  done
}

start() {
  if running_pid >/dev/null && answers; then
    echo "export DOCKER_HOST=$DOCKER_HOST"
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "starting dockerd needs root: run 'sudo $0 start' (or set DOCKER_HOST to an engine you run)"
  ensure_packages
  if pid=$(running_pid); then
    say "dockerd $pid does not answer: stopping it first"
    stop
  fi
  unmount_leftovers
  rm -f "$sock" "$pidfile"
  mkdir -p "$data_root" "$exec_root"
  local t0=$SECONDS
  # setsid: the engine outlives this shell and is not in the caller's process group.
  setsid dockerd \
    --bridge=none --iptables=false --ip6tables=false --ip-masq=false --userland-proxy=false \
    --data-root "$data_root" --exec-root "$exec_root" --pidfile "$pidfile" \
    -H "unix://$sock" >"$log" 2>&1 </dev/null &
  local launcher=$!
  for _ in $(seq 1 300); do
    if answers; then
      say "dockerd $(cat "$pidfile") answers on $sock ($((SECONDS - t0)) s); log $log"
      echo "export DOCKER_HOST=$DOCKER_HOST"
      return 0
    fi
    if ! kill -0 "$launcher" 2>/dev/null; then
      die "dockerd exited at start: $(grep -v '^\s*$' "$log" | tail -n 1 | cut -c1-300) (full log: $log)"
    fi
    sleep 0.1
  done
  die "dockerd did not answer within 30 s: read $log, then '$0 stop'"
}

stop() {
  local pid
  if pid=$(running_pid); then
    kill -TERM "$pid"
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "dockerd $pid did not stop within 30 s: sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    say "dockerd $pid stopped"
  else
    say "no dockerd running from $pidfile"
  fi
  unmount_leftovers
  rm -f "$pidfile" "$sock"
}

status() {
  local pid
  if pid=$(running_pid) && answers; then
    say "dockerd $pid answers on $sock (engine $(docker version --format '{{.Server.Version}}'))"
    echo "export DOCKER_HOST=$DOCKER_HOST"
    return 0
  fi
  say "no engine answers on $sock: run '$0 start'"
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: $0 start|stop|status" ;;
esac
