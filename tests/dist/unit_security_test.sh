#!/usr/bin/env bash
# Checks the systemd unit the package installs: `systemd-analyze verify` accepts it and
# `systemd-analyze security --offline=true` rates its exposure at 2.0 or less. Works on a file,
# so systemd need not be PID 1.
#   unit_security_test.sh UNIT_FILE [MAX_EXPOSURE]
set -euo pipefail
unit="$1" max="${2:-2.0}"
out="$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1)" || true
line="$(grep -o 'Overall exposure level for [^:]*: [0-9.]*' <<<"$out" || true)"
[[ -n "$line" ]] || { echo "$out"; echo "FAIL: no exposure level in the output"; echo "0 passed, 1 failed"; exit 1; }
level="${line##* }"
echo "$line (at most $max)"
if awk -v l="$level" -v m="$max" 'BEGIN { exit !(l <= m) }'; then
  echo "1 passed, 0 failed"
else
  grep '✗' <<<"$out" || true
  echo "FAIL: exposure $level is above $max"
  echo "0 passed, 1 failed"
  exit 1
fi
