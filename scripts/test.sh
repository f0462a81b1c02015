#!/usr/bin/env bash
# The test run of `make test`: the suite in tests/, nbval over every notebook and the unit tests on Python 3.13, side by side.
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

# The legs run side by side (they mostly wait on servers and kernels; 2 cores): nbval and the Python 3.13
# unit leg in the background, each into its own log, printed when it ends; the suite in tests/ in front.
logs=$(mktemp -d)
if [ "$backend" = docker ]; then
  say "nbval: every notebook against containers (RUNBOOK_BACKEND=docker), beside the suite"
else
  say "nbval against the binary backend, beside the suite: $why"
fi
t0=$EPOCHREALTIME
(RUNBOOK_BACKEND=$backend "$PY" -m pytest notebooks -p no:cacheprovider --nbval \
  --nbval-sanitize-with notebooks/sanitize.cfg >"$logs/nbval.log" 2>&1; echo $? >"$logs/nbval.rc") &
nbval_pid=$!
if [ -x .venv313/bin/python ]; then
  (.venv313/bin/python -m pytest tests -q -p no:cacheprovider -m "not integration and not browser" \
    >"$logs/py313.log" 2>&1; echo $? >"$logs/py313.rc") &
  py313_pid=$!
else
  py313_pid=""
  say "unit leg on Python 3.13 skipped: no .venv313 (python3.13 not found by scripts/setup.sh)"
fi
rc=0
# tests/ in workers (pytest-xdist), one test file per worker: module and session fixtures stay whole
workers=${RUNBOOK_TEST_WORKERS:-3}
env -u RUNBOOK_BACKEND "$PY" -m pytest tests -n "$workers" --dist loadfile "$@" || rc=$?
if [ -n "$py313_pid" ]; then
  wait "$py313_pid" || true
  say "unit tests on Python 3.13 (.venv313):"
  tail -n 3 "$logs/py313.log" >&2
  [ "$(cat "$logs/py313.rc")" = 0 ] || { cat "$logs/py313.log" >&2; rc=1; }
fi
wait "$nbval_pid" || true
say "nbval ($backend) took $(since "$t0") s:"
cat "$logs/nbval.log"
[ "$(cat "$logs/nbval.rc")" = 0 ] || rc=1
rm -rf "$logs"
exit "$rc"
