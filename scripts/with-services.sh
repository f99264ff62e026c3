#!/usr/bin/env bash
# Run a command against real PostgreSQL and Redis: scripts/with-services.sh COMMAND [ARG...]
#
# 1. DATABASE_URL unset: create a throwaway PostgreSQL cluster in a temporary directory, start
#    it on a free loopback port and export DATABASE_URL for its "doorstep" database, and
#    DOORSTEP_PG_BIN and DOORSTEP_PGDATA so that tests/faults can restart it with pg_ctl.
# 2. REDIS_URL unset: start redis-server without persistence on a free loopback port and export
#    REDIS_URL.
# 3. Export CHROMIUM_PATH for the browser tests.
# 4. Run the command. Whatever happens (failure, Ctrl-C, TERM) stop both servers, remove the
#    temporary directory and exit with the command's status.
#
# A URL that is already set is used as it is and nothing is started for it. Missing Debian
# packages (postgresql, redis-server, chromium, haproxy, gettext) are installed when running as root.
set -euo pipefail

if [[ $# -eq 0 ]]; then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi

say() { echo "with-services: $*" >&2; }
die() { say "$*"; exit 1; }

tmp=
pg_bin=
pg_pid=
redis_pid=
policy_rc_d=

cleanup() {
  local status=$?
  set +e
  # A server tests/faults restarted is no longer $pg_pid: pg_ctl finds it by its data folder.
  if [[ -n $pg_pid && -f $tmp/pg/postmaster.pid ]]; then
    "${as_postgres[@]}" "$pg_bin/pg_ctl" stop --pgdata "$tmp/pg" --mode fast --silent
  fi
  # SIGINT is a fast shutdown for PostgreSQL and a shutdown for Redis.
  for pid in $redis_pid $pg_pid; do
    kill -INT "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  [[ -n $tmp ]] && rm -rf "$tmp"
  [[ -n $policy_rc_d ]] && rm -f "$policy_rc_d"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# initdb refuses to run as root, so as root the cluster belongs to the postgres user. setpriv
# execs rather than forks, so the PID we get is the server's own.
as_postgres=()
if [[ $EUID -eq 0 ]]; then
  as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups)
fi

find_pg_bin() {
  local dir
  for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV); do
    [[ -x $dir/postgres && -x $dir/initdb ]] && { echo "$dir"; return 0; }
  done
  command -v initdb >/dev/null && dirname "$(command -v initdb)"
  return 0
}

free_port() {
  if command -v python3 >/dev/null && python3 -c pass 2>/dev/null; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    return
  fi
  local port
  while true; do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

redis_ping() {
  if command -v redis-cli >/dev/null; then
    [[ $(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null) == PONG ]]
  else
    local reply
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'PING\r\n' >&3
    read -r -t 1 reply <&3 || true
    exec 3<&-
    [[ $reply == +PONG* ]]
  fi
} 2>/dev/null

# 0. Install what is missing, with a single apt-get update.
missing=()
if [[ -z ${DATABASE_URL:-} ]]; then
  pg_bin=$(find_pg_bin)
  [[ -n $pg_bin ]] || missing+=(postgresql)
fi
if [[ -z ${REDIS_URL:-} ]] && ! command -v redis-server >/dev/null; then
  missing+=(redis-server)
fi
if [[ -z ${CHROMIUM_PATH:-} ]] && [[ ! -x /usr/bin/chromium ]]; then
  missing+=(chromium)
fi
if ! command -v haproxy >/dev/null; then
  missing+=(haproxy)
fi
# xgettext, for the test that every string of the source is in the French catalogue.
if ! command -v xgettext >/dev/null; then
  missing+=(gettext)
fi
if [[ ${#missing[@]} -gt 0 ]] && { [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null; }; then
  optional=" ${missing[*]} "
  optional=${optional// chromium / }
  optional=${optional// haproxy / }
  optional=${optional// gettext / }
  if [[ -z ${optional// /} ]]; then
    [[ " ${missing[*]} " == *" chromium "* ]] && say "chromium is missing, so the browser" \
      "tests cannot run (Debian: sudo apt-get install chromium, or set CHROMIUM_PATH)"
    [[ " ${missing[*]} " == *" haproxy "* ]] && say "haproxy is missing, so the fault" \
      "test cannot run (Debian: sudo apt-get install haproxy)"
    [[ " ${missing[*]} " == *" gettext "* ]] && say "gettext is missing, so the test that" \
      "the catalogues are up to date cannot run (Debian: sudo apt-get install gettext)"
    missing=()
  else
    die "missing ${missing[*]}: install them (Debian: sudo apt-get install ${missing[*]})" \
      "or set DATABASE_URL / REDIS_URL to servers you run yourself"
  fi
fi
if [[ ${#missing[@]} -gt 0 ]]; then
  say "installing ${missing[*]}"
  # Keep the packages from starting their own services or creating a default cluster.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    policy_rc_d=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy_rc_d"
    chmod +x "$policy_rc_d"
  fi
  if [[ " ${missing[*]} " == *" postgresql "* ]]; then
    mkdir -p /etc/postgresql-common/createcluster.d
    echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/doorstep.conf
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [[ -n $policy_rc_d ]]; then
    rm -f "$policy_rc_d"
    policy_rc_d=
  fi
  [[ -n ${DATABASE_URL:-} ]] || pg_bin=$(find_pg_bin)
fi

if [[ -z ${DATABASE_URL:-} || -z ${REDIS_URL:-} ]]; then
  # As root, under /tmp: the postgres user must be able to reach it.
  if [[ $EUID -eq 0 ]]; then
    tmp=$(mktemp -d /tmp/doorstep-services.XXXXXX)
    if [[ -z ${DATABASE_URL:-} ]]; then
      chown postgres: "$tmp" || die "as root, PostgreSQL runs as the 'postgres' user, which is missing"
    fi
  else
    tmp=$(mktemp -d)
  fi
fi

# 1. PostgreSQL.
if [[ -z ${DATABASE_URL:-} ]]; then
  [[ -n $pg_bin ]] || die "PostgreSQL server binaries not found (Debian: apt-get install postgresql)"
  pg_port=$(free_port)
  (cd "$tmp" && "${as_postgres[@]}" "$pg_bin/initdb" --pgdata "$tmp/pg" --username postgres \
    --auth trust --encoding UTF8 --no-locale --no-sync) >"$tmp/initdb.log" 2>&1 ||
    { cat "$tmp/initdb.log" >&2; die "initdb failed"; }
  # Its own session keeps Ctrl-C away from the server: cleanup stops it once the command is done.
  # A throwaway cluster, so durability is not worth the time.
  (cd "$tmp" && exec setsid "${as_postgres[@]}" "$pg_bin/postgres" -D "$tmp/pg" \
    -c listen_addresses=127.0.0.1 -p "$pg_port" -c unix_socket_directories="$tmp" \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off) >"$tmp/pg.log" 2>&1 &
  pg_pid=$!
  for _ in $(seq 300); do
    "$pg_bin/pg_isready" --quiet --host 127.0.0.1 --port "$pg_port" && break
    kill -0 "$pg_pid" 2>/dev/null || break
    sleep 0.1
  done
  "$pg_bin/pg_isready" --quiet --host 127.0.0.1 --port "$pg_port" ||
    { cat "$tmp/pg.log" >&2; die "PostgreSQL did not start"; }
  "$pg_bin/createdb" --host 127.0.0.1 --port "$pg_port" --username postgres doorstep
  export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/doorstep"
  export DOORSTEP_PG_BIN=$pg_bin DOORSTEP_PGDATA=$tmp/pg
  say "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port"
fi

# 2. Redis.
if [[ -z ${REDIS_URL:-} ]]; then
  redis_port=$(free_port)
  setsid redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
    --daemonize no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 100); do
    redis_ping "$redis_port" && break
    kill -0 "$redis_pid" 2>/dev/null || break
    sleep 0.1
  done
  redis_ping "$redis_port" || { cat "$tmp/redis.log" >&2; die "Redis did not start"; }
  export REDIS_URL="redis://127.0.0.1:$redis_port/0"
  say "Redis on 127.0.0.1:$redis_port"
fi

# 3. Chromium.
if [[ -z ${CHROMIUM_PATH:-} && -x /usr/bin/chromium ]]; then
  export CHROMIUM_PATH=/usr/bin/chromium
fi

# 4. The command, in the foreground so that it keeps the terminal.
status=0
"$@" || status=$?
exit "$status"
