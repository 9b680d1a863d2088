#!/usr/bin/env bash
# The programs sftpd starts for every connection load no C++ shared library: libstdc++ is linked
# in and spdlog and fmt are compiled in (sftpd/core/base/log_embedded.cc), so each exec resolves
# thousands fewer symbols and relocates fewer pages (docs/performance.md). The SFTP worker loads
# nothing at all: a static PIE, no loader (so no library), still position-independent (ASLR).
# Reads the program headers and the dynamic section, as the kernel and the loader do.
#   per_connection_libraries_test.sh PROGRAM... [--static-pie PROGRAM...]
set -euo pipefail
passed=0 failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
static_pie=0
for program in "$@"; do
  if [[ "$program" == --static-pie ]]; then static_pie=1; continue; fi
  name="$(basename "$program")"
  headers="$(readelf -lh "$program")" || { fail "cannot read $program"; continue; }
  needed="$(readelf -d "$program" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
  if ((static_pie)); then
    if grep -q 'INTERP' <<<"$headers"; then fail "$name names a loader"; continue; fi
    if [[ -n "$needed" ]]; then fail "$name needs $(tr '\n' ' ' <<<"$needed")"; continue; fi
    if ! grep -q 'Type:.*DYN' <<<"$headers"; then fail "$name is not position-independent"; continue; fi
    echo "ok: $name is a static PIE"
    passed=$((passed + 1))
    continue
  fi
  [[ -n "$needed" ]] || { fail "no NEEDED entries read from $program"; continue; }
  cxx="$(grep -E '^lib(stdc\+\+|gcc_s|spdlog|fmt)\.so' <<<"$needed" || true)"
  if [[ -z "$cxx" ]]; then
    echo "ok: $name needs $(tr '\n' ' ' <<<"$needed")"
    passed=$((passed + 1))
  else
    fail "$name loads $(tr '\n' ' ' <<<"$cxx")at every exec"
  fi
done
echo "$passed passed, $failed failed"
((failed == 0 && passed > 0))
