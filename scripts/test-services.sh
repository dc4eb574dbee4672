#!/usr/bin/env bash
# Throwaway Redis and PostgreSQL for the tests, on non-default loopback ports in a
# temp dir. Only the processes this script started are ever stopped (by PID).
#
#   eval "$(scripts/test-services.sh start)"   # prints export lines: TM_TEST_* and TM_SERVICES_DIR
#   scripts/test-services.sh stop              # uses TM_SERVICES_DIR
#   scripts/test-services.sh restart-redis     # a fresh, empty Redis on the same port (outage tests)
#   scripts/test-services.sh stop-postgres     # PostgreSQL down (fast shutdown), data kept (outage tests)
#   scripts/test-services.sh start-postgres    # up again on the same port and socket dir
#   scripts/test-services.sh restart-postgres  # both
#
# Exports: TM_TEST_POSTGRES_DSN, TM_TEST_REDIS_URL, TM_TEST_PG_PORT, TM_TEST_REDIS_PORT,
# TM_TEST_PG_BIN (the server's bin dir), TM_SERVICES_DIR; and TM_TEST_SECRET, the
# password of the user tm_secret of both servers (only that role must give one),
# with TM_TEST_SECRET_POSTGRES_DSN (its own database).
set -euo pipefail

die() { echo "test-services: $*" >&2; exit 1; }

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -x "$d/initdb" ]] || die "PostgreSQL server not found under /usr/lib/postgresql (run scripts/bootstrap.sh)"
  echo "$d"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  local p=$1
  while ! port_free "$p"; do p=$((p + 1)); done
  echo "$p"
}

# Waits up to 30 s for a command to succeed; polls because the servers give no event to wait on.
wait_for() {
  local what=$1; shift
  for _ in $(seq 1 300); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "$what did not come up; see $TM_SERVICES_DIR"
}

# Whether the Redis answering on the port is the one this script started (its pid
# file names it). Another instance may have taken the port while ours was down
# (another checkout's services on this machine, during restart-redis): a test
# must never talk to it, let alone flush it.
redis_is_ours() {
  local pid
  pid=$(cat "$TM_SERVICES_DIR/redis/redis.pid" 2>/dev/null) || return 1
  [[ "$(redis-cli -h 127.0.0.1 -p "$1" INFO server | tr -d '\r' | sed -n 's/^process_id://p')" == "$pid" ]]
}

start_redis() {
  local port=$1
  redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
    --dir "$TM_SERVICES_DIR/redis" --pidfile "$TM_SERVICES_DIR/redis/redis.pid" \
    --logfile "$TM_SERVICES_DIR/redis/redis.log" \
    --user tm_secret on ">$(cat "$TM_SERVICES_DIR/secret")" '~*' '&*' '+@all' >/dev/null
  wait_for "redis-server on port $port" redis_is_ours "$port"
}

stop_redis() {
  local pidfile="$TM_SERVICES_DIR/redis/redis.pid" pid
  [[ -f "$pidfile" ]] || return 0
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$pidfile"
}

as_postgres() {
  # From /: the postgres user may not be able to enter the caller's directory.
  if [[ $(id -u) -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

start_postgres() {
  local bin=$1 port=$2
  as_postgres "$bin/pg_ctl" -D "$TM_SERVICES_DIR/pg/data" -l "$TM_SERVICES_DIR/pg/server.log" -w -t 60 \
    -o "-p $port -k $TM_SERVICES_DIR/pg -h 127.0.0.1 -c fsync=off -c max_connections=200" \
    start >/dev/null 2>&1
}

cmd_start() {
  command -v redis-server >/dev/null || die "redis-server not found (run scripts/bootstrap.sh)"
  local bin; bin=$(pg_bindir)
  TM_SERVICES_DIR=$(mktemp -d "${TMPDIR:-/tmp}/taskmaster-services.XXXXXX")
  export TM_SERVICES_DIR
  # A failed start stops whatever it had started.
  trap '[[ $? -eq 0 ]] || cmd_stop' EXIT
  chmod 755 "$TM_SERVICES_DIR"
  mkdir -p "$TM_SERVICES_DIR/redis" "$TM_SERVICES_DIR/pg"
  [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$TM_SERVICES_DIR/pg"

  # The password of the tm_secret user of both servers (the secrets tests).
  local TM_TEST_SECRET
  TM_TEST_SECRET="pw-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  echo "$TM_TEST_SECRET" >"$TM_SERVICES_DIR/secret"
  local redis_port pg_port
  redis_port=$(free_port "${TM_TEST_REDIS_PORT:-56379}")
  pg_port=$(free_port "${TM_TEST_PG_PORT:-55432}")
  echo "$redis_port" >"$TM_SERVICES_DIR/redis/port"
  start_redis "$redis_port"

  as_postgres "$bin/initdb" -D "$TM_SERVICES_DIR/pg/data" -U postgres -A trust \
    --no-sync -E UTF8 >"$TM_SERVICES_DIR/pg/initdb.log" 2>&1 || die "initdb failed; see $TM_SERVICES_DIR/pg/initdb.log"
  # One role must give its password (the secrets tests, tests/cli/): every other
  # role keeps trust, so no other suite changes.
  sed -i '1i host all tm_secret 127.0.0.1/32 scram-sha-256' "$TM_SERVICES_DIR/pg/data/pg_hba.conf"
  # Another run may take a port between our check and the bind: try the next one.
  local tries=0
  until start_postgres "$bin" "$pg_port"; do
    tries=$((tries + 1))
    if [[ $tries -ge 10 ]] || ! grep -q "Address already in use" "$TM_SERVICES_DIR/pg/server.log"; then
      die "postgres did not start; see $TM_SERVICES_DIR/pg/server.log"
    fi
    pg_port=$(free_port $((pg_port + 1)))
  done
  echo "$pg_port" >"$TM_SERVICES_DIR/pg/port"
  local psql=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres)
  "${psql[@]}" -c "CREATE ROLE taskmaster LOGIN PASSWORD 'dev'" \
    -c "CREATE DATABASE taskmaster OWNER taskmaster" \
    -c "CREATE ROLE tm_secret LOGIN PASSWORD '$TM_TEST_SECRET'" \
    -c "CREATE DATABASE tm_secret OWNER tm_secret" >/dev/null

  cat <<EOT
export TM_SERVICES_DIR='$TM_SERVICES_DIR'
export TM_TEST_PG_BIN='$bin'
export TM_TEST_PG_PORT='$pg_port'
export TM_TEST_REDIS_PORT='$redis_port'
export TM_TEST_POSTGRES_DSN='postgresql://taskmaster:dev@127.0.0.1:$pg_port/taskmaster'
export TM_TEST_REDIS_URL='redis://127.0.0.1:$redis_port/0'
export TM_TEST_SECRET_POSTGRES_DSN='postgresql://tm_secret:$TM_TEST_SECRET@127.0.0.1:$pg_port/tm_secret'
export TM_TEST_SECRET='$TM_TEST_SECRET'
EOT
}

cmd_stop() {
  [[ -n "${TM_SERVICES_DIR:-}" ]] || die "TM_SERVICES_DIR is not set"
  [[ -d "$TM_SERVICES_DIR" ]] || return 0
  stop_redis
  if [[ -f "$TM_SERVICES_DIR/pg/data/postmaster.pid" ]]; then
    as_postgres "$(pg_bindir)/pg_ctl" -D "$TM_SERVICES_DIR/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$TM_SERVICES_DIR"
}

cmd_restart_redis() {
  [[ -n "${TM_SERVICES_DIR:-}" ]] || die "TM_SERVICES_DIR is not set"
  stop_redis
  start_redis "$(cat "$TM_SERVICES_DIR/redis/port")"
}

# The outage commands need what `start` exported: TM_SERVICES_DIR and TM_TEST_PG_PORT.
pg_outage_env() {
  [[ -n "${TM_SERVICES_DIR:-}" ]] || die "TM_SERVICES_DIR is not set"
  [[ -n "${TM_TEST_PG_PORT:-}" ]] || die "TM_TEST_PG_PORT is not set"
  [[ -d "$TM_SERVICES_DIR/pg/data" ]] || die "no PostgreSQL data dir under $TM_SERVICES_DIR"
}

cmd_stop_postgres() {
  pg_outage_env
  as_postgres "$(pg_bindir)/pg_ctl" -D "$TM_SERVICES_DIR/pg/data" -m fast -w -t 60 stop >/dev/null ||
    die "postgres did not stop; see $TM_SERVICES_DIR/pg/server.log"
}

cmd_start_postgres() {
  pg_outage_env
  # The same options as cmd_start.
  as_postgres "$(pg_bindir)/pg_ctl" -D "$TM_SERVICES_DIR/pg/data" -l "$TM_SERVICES_DIR/pg/server.log" -w -t 60 \
    -o "-p $TM_TEST_PG_PORT -k $TM_SERVICES_DIR/pg -h 127.0.0.1 -c fsync=off -c max_connections=200" \
    start >/dev/null || die "postgres did not start; see $TM_SERVICES_DIR/pg/server.log"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart-redis) cmd_restart_redis ;;
  stop-postgres) cmd_stop_postgres ;;
  start-postgres) cmd_start_postgres ;;
  restart-postgres) cmd_stop_postgres; cmd_start_postgres ;;
  *) echo "usage: $0 start|stop|restart-redis|stop-postgres|start-postgres|restart-postgres" >&2; exit 2 ;;
esac
