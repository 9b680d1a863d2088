#!/usr/bin/env bash
# scripts/bench sftp: sftpd measured side by side with the peers (OpenSSH internal-sftp and
# ProFTPD mod_sftp) by ../shared/bench/peers.sh, interleaved in one run, then a put through a
# 50 ms RTT loopback proxy for sftpd and OpenSSH.
#   bench_sftp.sh BUILD_DIR WORK_DIR        (called by scripts/bench)
# Environment passed to peers.sh: TESTS, CIPHERS, BULK_MB, BULK_RUNS, SMALL_RUNS, LOGIN_RUNS,
# CONC_LIST, CONC_RUNS, ... (see its header). RTT_MB (default 256) sizes the RTT test.
# SFTPLC_BENCH_BASELINE=DIR: a build folder of an earlier version (sftpd/sftpd, admin/sftpctl
# and the programs they start), measured as the target "before" in the same interleaved run.
set -euo pipefail
BUILD="$1"
WORK="$2"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/scripts/lib/services.sh"
SHARED="${SFTPLC_SHARED:-$ROOT/../shared}"
PEERS="$SHARED/bench/peers.sh"
[[ -x "$PEERS" ]] || { echo "bench: $PEERS not found (set SFTPLC_SHARED)" >&2; exit 1; }

export BENCH_WORK="${BENCH_WORK:-${TMPDIR:-/tmp}/anchors/peers}"
export RESULTS="${RESULTS:-$ROOT/build/bench-results}"
mkdir -p "$RESULTS"

# Peer packages (the harness expects them) and the peers themselves.
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in openssh-server proftpd-core proftpd-mod-crypto iperf3 socat; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; fi
"$PEERS" setup
trap '"$PEERS" stop >/dev/null 2>&1 || true; [[ -n "${SFTPD_PIDS:-}" ]] && kill $SFTPD_PIDS 2>/dev/null; [[ -n "${PROXY_PIDS:-}" ]] && kill $PROXY_PIDS 2>/dev/null; true' EXIT

# Our server: same test user name, same client key and password as the peers. start_sftpd
# LABEL BUILD_DIR starts one from BUILD_DIR in $WORK/LABEL and sets PORT and SFTPD_PID.
SFTPD_PIDS=""
start_sftpd() {
  local label="$1" build="$2" dir="$WORK/$1"
  mkdir -p "$dir"
  PORT="$(free_port)"
  cat >"$dir/sftpd.toml" <<TOML
[server]
listen = ["127.0.0.1:$PORT"]
host_keys = ["ssh_host_ed25519_key"]
allow_root = true
max_sessions = 2000
max_sessions_per_ip = 2000
max_startups = "2000"
per_source_max_startups = 2000
[storage]
root = "files"
[database]
url = "sqlite:accounts.db"
[log]
level = "warn"
TOML
  local ctl=("$build/admin/sftpctl" --config "$dir/sftpd.toml")
  "${ctl[@]}" account create --username sftpbench --name "Bench User" --email bench@example.com \
    --phone "+441513577700" --password-stdin <"$BENCH_WORK/password" >/dev/null
  "${ctl[@]}" account add-key sftpbench "$BENCH_WORK/client_ed25519.pub" >/dev/null
  "$build/sftpd/sftpd" --config "$dir/sftpd.toml" >"$dir/stdout" 2>"$dir/stderr" &
  SFTPD_PID=$!
  SFTPD_PIDS="$SFTPD_PIDS $SFTPD_PID"
  for _ in $(seq 1 100); do grep -q '^listening on' "$dir/stdout" && break; sleep 0.1; done
  grep -q '^listening on' "$dir/stdout" ||
    { echo "bench: sftpd ($label) did not start" >&2; cat "$dir/stderr" >&2; exit 1; }
}
baseline=""
if [[ -n "${SFTPLC_BENCH_BASELINE:-}" ]]; then
  [[ -x "$SFTPLC_BENCH_BASELINE/sftpd/sftpd" ]] ||
    { echo "bench: no sftpd/sftpd in SFTPLC_BENCH_BASELINE=$SFTPLC_BENCH_BASELINE" >&2; exit 1; }
  start_sftpd before "$SFTPLC_BENCH_BASELINE"
  baseline="before|127.0.0.1|$PORT|sftpbench|$BENCH_WORK/client_ed25519|$BENCH_WORK/password|$SFTPD_PID "
fi
start_sftpd ours "$BUILD"

KEY="$BENCH_WORK/client_ed25519"
PASS="$BENCH_WORK/password"
export TARGETS="${baseline}ours|127.0.0.1|$PORT|sftpbench|$KEY|$PASS|$SFTPD_PID openssh|127.0.0.1|2201|sftpbench|$KEY|$PASS proftpd|127.0.0.1|2202|sftpbench|$KEY|$PASS"
"$PEERS" compare
latest="$(ls -1d "$RESULTS"/[0-9]*/ | sort | tail -n1)"
"$PEERS" summarize "$latest" openssh | tee "$WORK/summary.md"

# The raw SSH channel (no SFTP: dd | ssh cat, through peer A's sshd) is the ceiling a single
# OpenSSH-client stream can reach here; bulk goals are ratios against it.
if [[ " ${TESTS:-bulk} " == *" bulk "* || -z "${TESTS:-}" ]]; then
  echo
  echo "== raw SSH channel (limits.sh ssh, ${RAW_RUNS:-2} runs) and sftpd / raw"
  RUNS="${RAW_RUNS:-2}" CIPHERS="${CIPHERS:-aes128-gcm@openssh.com chacha20-poly1305@openssh.com}" \
    "$SHARED/bench/limits.sh" ssh >/dev/null
  limits_csv="$(ls -1d "$RESULTS"/limits-*/ | sort | tail -n1)limits.csv"
  "$ROOT/scripts/lib/raw_ratio.py" "$latest" "$limits_csv" ours | tee -a "$WORK/summary.md"
fi

# 50 ms RTT put: sftpd and OpenSSH through the same delay proxy.
RTT_MB="${RTT_MB:-256}"
SRC="$WORK/rtt.bin"
head -c "$((RTT_MB * 1048576))" /dev/urandom >"$SRC"
echo
echo "== put of $RTT_MB MiB through a 50 ms RTT proxy (aes128-gcm, default buffers)"
for target in "ours:$PORT" "openssh:2201"; do
  label="${target%%:*}"; tport="${target##*:}"
  pport="$(free_port)"
  "$ROOT/scripts/lib/delay_proxy.py" --listen-port "$pport" --target-port "$tport" --delay-ms 25 \
    >"$WORK/proxy.$label" 2>&1 &
  PROXY_PIDS="${PROXY_PIDS:-} $!"
  for _ in $(seq 1 100); do grep -q '^listening' "$WORK/proxy.$label" && break; sleep 0.1; done
  echo "put $SRC rtt-$label.bin" >"$WORK/b.rtt"
  t0=$(date +%s.%N)
  sftp -q -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
    -o IdentitiesOnly=yes -o PreferredAuthentications=publickey -o PasswordAuthentication=no \
    -o Ciphers=aes128-gcm@openssh.com -i "$KEY" -P "$pport" -b "$WORK/b.rtt" sftpbench@127.0.0.1 >/dev/null
  t1=$(date +%s.%N)
  awk -v l="$label" -v s="$t0" -v e="$t1" -v mb="$RTT_MB" \
    'BEGIN { printf "%-8s %6.1f MB/s (%.1f s)\n", l, mb * 1.048576 / (e - s), e - s }'
done
