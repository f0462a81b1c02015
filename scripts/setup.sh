#!/usr/bin/env bash
# Idempotent set-up for redis-tls-runbook on Debian/Ubuntu (used by `make demo` and `make test`).
#   1. a Python >= 3.11 virtualenv in .venv with the package and its dependencies
#   2. a TLS-capable redis-server >= 6.2 (apt-get install when missing and we are root)
#   3. proof that redis-server speaks TLS (started once with a tls-port by `runbook doctor`)
# Usage: scripts/setup.sh [--dev]   (--dev adds the test tools: pytest, nbval, ruff, mypy, ...)
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[ "${1:-}" = "--dev" ] && extras="[dev]"
VENV=${VENV:-.venv}

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

# --- Python ----------------------------------------------------------------------------
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3 python3.13 python3.12 python3.11; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PY=$cand; break
    fi
  done
fi
[ -n "$PY" ] || die "Python >= 3.11 not found: install it (apt-get install python3 python3-venv) or set PYTHON=/path/to/python3.11"

if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtualenv $VENV with $($PY --version)"
  "$PY" -m venv "$VENV" || die "could not create a virtualenv: apt-get install python3-venv, then re-run"
fi
stamp="$VENV/.installed${extras:+-dev}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing redis-tls-runbook${extras} into $VENV"
  # (sed drops the noise of local index mirrors that lack a package; with pipefail pip's exit code is kept)
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 | sed '/is ignored/d'
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".${extras}" 2>&1 | sed '/is ignored/d'
  touch "$stamp"
fi

# --- redis-server ----------------------------------------------------------------------
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "redis-server missing: installing it with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends redis-server redis-tools openssl >/dev/null
  else
    die "redis-server >= 6.2 with TLS is missing: run 'sudo apt-get install redis-server redis-tools' (or 'conda env create -f environment.yml'), then re-run"
  fi
fi
if ! command -v openssl >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get install -y -qq openssl >/dev/null
fi

# Proves TLS support by starting redis-server with a tls-port on loopback, then stopping it.
"$VENV/bin/python" -m runbook doctor --quiet
