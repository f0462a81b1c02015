#!/usr/bin/env bash
# Find (or install) the Chromium the browser tests drive through playwright's `executable_path`.
#   - $RUNBOOK_CHROMIUM, else `chromium` on PATH (Debian's package), is used when it runs;
#   - when it is missing and we are root with apt-get, Debian's `chromium` package is installed
#     (apt-get update first only when the package is unknown: fresh CI machines have no lists);
#   - playwright's own browser download is never used.
# Prints the browser's path on stdout and exits 0; otherwise prints ONE line saying why and how to
# get it on stderr and exits 3 (the browser tests turn that line into their skip reason).
set -uo pipefail

say() { printf 'ensure_chromium: %s\n' "$*" >&2; }
fail() { printf '%s\n' "$*" >&2; exit 3; }

works() { "$1" --headless --no-sandbox --disable-gpu --version >/dev/null 2>&1; }

find_chromium() {
  local cand candidates=(chromium /usr/bin/chromium)
  [ -n "${RUNBOOK_CHROMIUM:-}" ] && candidates=("$RUNBOOK_CHROMIUM")
  for cand in "${candidates[@]}"; do
    cand=$(command -v "$cand" 2>/dev/null) || continue
    if works "$cand"; then printf '%s\n' "$cand"; return 0; fi
  done
  return 1
}

if find_chromium; then exit 0; fi

if [ -n "${RUNBOOK_CHROMIUM:-}" ]; then
  fail "RUNBOOK_CHROMIUM=$RUNBOOK_CHROMIUM does not run: point it at a working chromium, or unset it"
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  fail "chromium not installed and not root with apt-get: run 'sudo apt-get install chromium' (or set RUNBOOK_CHROMIUM=/path/to/chromium)"
fi

export DEBIAN_FRONTEND=noninteractive
if ! apt-cache show chromium >/dev/null 2>&1; then
  say "chromium unknown to apt: apt-get update"
  apt-get update -qq >/dev/null 2>&1 || fail "apt-get update failed: check the Debian mirror, then 'apt-get install chromium'"
fi
say "chromium missing: installing Debian's chromium with apt-get"
if ! apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null 2>&1; then
  fail "apt-get install chromium failed: on Ubuntu chromium is a snap (unusable here); install a Debian chromium or set RUNBOOK_CHROMIUM"
fi
find_chromium || fail "chromium was installed but does not start: run 'chromium --headless --version' to see why"
