#!/usr/bin/env bash
# Idempotent set-up for redis-tls-runbook on Debian/Ubuntu (used by `make demo` and `make test`).
#   1. a Python >= 3.11 virtualenv in .venv with the package and its dependencies
#   2. a TLS-capable redis-server >= 6.2 (apt-get install when missing and we are root)
#   3. proof that redis-server speaks TLS (started once with a tls-port by `runbook doctor`)
#   4. with --dev: a second virtualenv .venv313 on Python 3.13 (the newest supported) for the unit tests
#      `make test` also runs there (skipped, saying so, when no python3.13 is found; PYTHON313=/path sets it)
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

# --- Python 3.13 (dev only): the unit tests on the newest supported Python -------------------
if [ -n "$extras" ]; then
  VENV313=${VENV313:-.venv313}
  PY313=${PYTHON313:-}
  if [ -z "$PY313" ]; then
    for cand in python3.13 /root/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13; do
      # a pyenv shim answers `command -v` but may refuse to run: use only a candidate that really runs 3.13
      if "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1; then PY313=$cand; break; fi
    done
  fi
  if [ -z "$PY313" ]; then
    say "python3.13 not found: the Python 3.13 unit-test leg of 'make test' is skipped (set PYTHON313=/path to enable)"
  else
    if [ ! -x "$VENV313/bin/python" ]; then
      say "creating virtualenv $VENV313 with $($PY313 --version)"
      "$PY313" -m venv "$VENV313" || die "could not create $VENV313 with $PY313: reinstall that Python or unset PYTHON313"
    fi
    stamp313="$VENV313/.installed-dev"
    if [ ! -f "$stamp313" ] || [ pyproject.toml -nt "$stamp313" ]; then
      say "installing redis-tls-runbook[dev] into $VENV313"
      "$VENV313/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 | sed '/is ignored/d'
      "$VENV313/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev]" 2>&1 | sed '/is ignored/d'
      touch "$stamp313"
    fi
  fi
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
