#!/usr/bin/env bash
# The programs sftpd starts for every connection (sftpd-session, sftpd-sftp) load no C++
# shared library: libstdc++ is linked in and spdlog and fmt are compiled in
# (sftpd/core/base/log_embedded.cc), so each exec resolves thousands fewer symbols and
# relocates fewer pages (docs/performance.md). Reads the dynamic section, as the loader does.
#   per_connection_libraries_test.sh PROGRAM...
set -euo pipefail
passed=0 failed=0
for program in "$@"; do
  needed="$(readelf -d "$program" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
  [[ -n "$needed" ]] || { echo "FAIL: no NEEDED entries read from $program"; failed=$((failed + 1)); continue; }
  cxx="$(grep -E '^lib(stdc\+\+|gcc_s|spdlog|fmt)\.so' <<<"$needed" || true)"
  if [[ -z "$cxx" ]]; then
    echo "ok: $(basename "$program") needs $(tr '\n' ' ' <<<"$needed")"
    passed=$((passed + 1))
  else
    echo "FAIL: $(basename "$program") loads $(tr '\n' ' ' <<<"$cxx")at every exec"
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
((failed == 0 && passed > 0))
