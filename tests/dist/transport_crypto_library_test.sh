#!/usr/bin/env bash
# The transport (sftpd-session) runs libssh's libgcrypt build and loads no OpenSSL: a process
# exec'd per connection would pay libcrypto's relocated tables and provider set-up on its own
# (docs/architecture.md, "The transport's crypto library"). It selects libgcrypt's system random
# generator before any library initialises: a pre-initialisation function (PREINIT_ARRAY).
#   transport_crypto_library_test.sh SFTPD_SESSION
set -euo pipefail
program="$1"
failed=0
loaded="$(ldd "$program" | awk '{print $1}')"
grep -qx 'libssh-gcrypt.so.4' <<<"$loaded" ||
  { echo "FAIL: $(basename "$program") does not load libssh-gcrypt.so.4"; failed=1; }
if grep -E '^lib(crypto|ssl|ssh)\.so' <<<"$loaded"; then
  echo "FAIL: $(basename "$program") loads the OpenSSL build of libssh or OpenSSL itself"
  failed=1
fi
readelf -d "$program" | grep -q '(PREINIT_ARRAY)' ||
  { echo "FAIL: $(basename "$program") has no pre-initialisation function"; failed=1; }
((failed == 0)) && echo "ok: $(basename "$program") loads $(tr '\n' ' ' <<<"$loaded")"
((failed == 0))
