# Shared by the shop's scripts: find or start PostgreSQL and Redis, and the toolchain bits.
# Sourced, not run. Exports SHOP_PG_ADDR (host:port) and SHOP_REDIS_ADDR (host:port).
#
# Order of preference, for each store:
#   1. an address given in SHOP_PG_ADDR / SHOP_REDIS_ADDR;
#   2. a server already answering on 127.0.0.1 at the default port (5432 / 6379);
#   3. a private server started under .data/ from the system's packages (installed with
#      apt-get when missing), listening on 127.0.0.1:55432 / 127.0.0.1:56379.
set -euo pipefail

SHOP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHOP_DATA="${SHOP_DATA:-$SHOP_ROOT/.data}"

# One clock for a script and the scripts it runs, so every line tells how far in a run is.
export SHOP_T0="${SHOP_T0:-$(date +%s)}"
elapsed() { local s=$(($(date +%s) - SHOP_T0)); printf '%d:%02d' $((s / 60)) $((s % 60)); }

say() { printf '\033[1m==> [%s] %s\033[0m\n' "$(elapsed)" "$*" >&2; }

# phase NAME: starts a named phase (ending the one before); phase_summary prints how long each took.
SHOP_PHASES=()
_phase_name=""
_phase_start=0
phase() {
  _phase_close
  _phase_name=$1
  _phase_start=$(date +%s)
  say "$1"
}
_phase_close() {
  [ -n "$_phase_name" ] || return 0
  SHOP_PHASES+=("$(printf '%6ss  %s' $(($(date +%s) - _phase_start)) "$_phase_name")")
  _phase_name=""
}
phase_summary() {
  _phase_close
  [ "${#SHOP_PHASES[@]}" -gt 0 ] || return 0
  printf '\033[1m==> time per phase (total %s)\033[0m\n' "$(elapsed)" >&2
  printf '%s\n' "${SHOP_PHASES[@]}" >&2
}
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# True when something accepts TCP connections at host:port.
port_open() {
  local host=${1%:*} port=${1##*:}
  (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

wait_port() {
  local addr=$1 what=$2
  for _ in $(seq 1 100); do port_open "$addr" && return 0; sleep 0.1; done
  die "$what did not start listening on $addr"
}

# Installs Debian packages when a needed command is missing (needs root or sudo).
apt_install() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  say "installing $* (apt-get)"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

ensure_rust_target() {
  command -v cargo >/dev/null || die "cargo is missing: install Rust with rustup (https://rustup.rs)"
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    say "adding the wasm32-wasip2 target"
    rustup target add wasm32-wasip2
  fi
}

postgres_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# Runs a command as the `postgres` system user when we are root (initdb refuses to run as root).
as_pg_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_private_postgres() {
  local addr=127.0.0.1:55432 dir="$SHOP_DATA/postgres"
  if port_open "$addr"; then SHOP_PG_ADDR=$addr; return; fi
  [ -n "$(postgres_bin)" ] || apt_install postgresql postgresql-client
  local bin; bin=$(postgres_bin)
  mkdir -p "$SHOP_DATA"
  if [ ! -s "$dir/PG_VERSION" ]; then
    say "creating a private PostgreSQL cluster in $dir"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_pg_user "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  say "starting PostgreSQL on $addr"
  as_pg_user "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p 55432 -k $dir -c fsync=off" start >/dev/null
  wait_port "$addr" PostgreSQL
  SHOP_PG_ADDR=$addr
}

start_private_redis() {
  local addr=127.0.0.1:56379 dir="$SHOP_DATA/redis"
  if port_open "$addr"; then SHOP_REDIS_ADDR=$addr; return; fi
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p "$dir"
  say "starting Redis on $addr"
  redis-server --bind 127.0.0.1 --port 56379 --daemonize yes --save "" --appendonly no \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  wait_port "$addr" Redis
  SHOP_REDIS_ADDR=$addr
}

ensure_stores() {
  if [ -n "${SHOP_PG_ADDR:-}" ]; then
    port_open "$SHOP_PG_ADDR" || die "SHOP_PG_ADDR=$SHOP_PG_ADDR does not answer"
  elif port_open 127.0.0.1:5432; then
    SHOP_PG_ADDR=127.0.0.1:5432
  else
    start_private_postgres
  fi
  if [ -n "${SHOP_REDIS_ADDR:-}" ]; then
    port_open "$SHOP_REDIS_ADDR" || die "SHOP_REDIS_ADDR=$SHOP_REDIS_ADDR does not answer"
  elif port_open 127.0.0.1:6379; then
    SHOP_REDIS_ADDR=127.0.0.1:6379
  else
    start_private_redis
  fi
  export SHOP_PG_ADDR SHOP_REDIS_ADDR
  say "PostgreSQL at $SHOP_PG_ADDR, Redis at $SHOP_REDIS_ADDR"
}

# What `cargo test` covers: the whole workspace but runtime-local's wasm-only test components
# (its tests build those for wasm32-wasip2 themselves).
SHOP_TEST_PACKAGES=(--workspace --exclude rl-test-app --exclude rl-test-kv)

# The wasm components of the shop, as named in spin.toml.
SHOP_COMPONENTS=(frontend products carts checkout payment shipping email accounts)

# build_components [PACKAGE...]: the shop's components, then any other wasm packages named
# (a second invocation, so the shop's own build is the same with or without them).
build_components() {
  local args=()
  for c in "${SHOP_COMPONENTS[@]}"; do args+=(-p "$c"); done
  say "building the wasm components (release)"
  cargo build --quiet --target wasm32-wasip2 --release "${args[@]}"
  if [ "$#" -gt 0 ]; then
    args=()
    for c in "$@"; do args+=(-p "$c"); done
    cargo build --quiet --target wasm32-wasip2 --release "${args[@]}"
  fi
}
