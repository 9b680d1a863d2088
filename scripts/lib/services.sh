# Shared by scripts/test and scripts/bench (sourced, not run): throwaway services on loopback.

# free_port: prints a TCP port that is free on 127.0.0.1 now.
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# pg_start DIR: a throwaway PostgreSQL 15 cluster in DIR (owned by the postgres user: the server
# refuses root), trust auth on 127.0.0.1 only, fsync off (it is thrown away). Sets PG_URL
# ("postgresql://sftplc@127.0.0.1:PORT/") and PG_DATA.
pg_start() {
  local dir="$1" bin=/usr/lib/postgresql/15/bin port
  PG_DATA="$dir"
  mkdir -p "$PG_DATA"
  chown postgres:postgres "$PG_DATA"
  port="$(free_port)"
  runuser -u postgres -- "$bin/initdb" -D "$PG_DATA" -U sftplc --auth=trust -E UTF8 >/dev/null
  runuser -u postgres -- "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$PG_DATA' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null
  PG_URL="postgresql://sftplc@127.0.0.1:$port/"
}

# pg_stop: stops the cluster pg_start started (if any).
pg_stop() {
  if [[ -n "${PG_DATA:-}" && -f "$PG_DATA/postmaster.pid" ]]; then
    runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$PG_DATA" -m immediate stop >/dev/null 2>&1 || true
  fi
}

# pg_createdb NAME: creates a database on the cluster and prints its URL.
pg_createdb() {
  psql -q -v ON_ERROR_STOP=1 "${PG_URL}postgres" -c "CREATE DATABASE $1" >/dev/null
  echo "${PG_URL}$1"
}
