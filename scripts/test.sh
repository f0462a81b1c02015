#!/usr/bin/env bash
# The test run of `make test`: the suite in tests/, then nbval over every notebook.
#
# As root, a private Docker engine is started (scripts/docker-engine.sh), the local Redis image is
# built (cached by its recipe stamp), the docker tests in tests/ run against it, and nbval runs the
# notebooks with RUNBOOK_BACKEND=docker; the engine is stopped afterwards, also on failure (unless
# it was already running before). Without root or an engine, nbval runs against the binary backend
# and says why. The binary backend is covered by the pipeline run in tests/ either way.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
say() { printf 'test: %s\n' "$*" >&2; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

backend=binary
why=""
if [ "$(id -u)" != 0 ]; then
  why="not root: the Docker engine cannot be started here"
elif scripts/docker-engine.sh status >/dev/null 2>&1; then
  eval "$(scripts/docker-engine.sh status 2>/dev/null)"
  backend=docker
  say "using the Docker engine already running ($DOCKER_HOST)"
else
  t0=$EPOCHREALTIME
  if out=$(scripts/docker-engine.sh start); then
    eval "$out"
    trap 'scripts/docker-engine.sh stop' EXIT
    backend=docker
    say "engine started in $(since "$t0") s"
  else
    why="the Docker engine did not start (see the message above)"
  fi
fi
if [ "$backend" = docker ]; then
  t0=$EPOCHREALTIME
  if ! "$PY" -m runbook sandbox image build >&2; then
    backend=binary
    why="the local image could not be built (see the message above)"
  else
    say "image ready in $(since "$t0") s"
  fi
fi

rc=0
env -u RUNBOOK_BACKEND "$PY" -m pytest tests "$@" || rc=$?
if [ "$backend" = docker ]; then
  say "nbval: every notebook against containers (RUNBOOK_BACKEND=docker)"
else
  say "nbval against the binary backend: $why"
fi
t0=$EPOCHREALTIME
RUNBOOK_BACKEND=$backend "$PY" -m pytest notebooks --nbval --nbval-sanitize-with notebooks/sanitize.cfg || rc=$?
say "nbval ($backend) took $(since "$t0") s"
exit "$rc"
