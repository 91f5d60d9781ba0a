#!/usr/bin/env bash
# PostgreSQL and Redis on 127.0.0.1 for the tests' second pass and the scale-out tests: started when installed
# but stopped, installed from Debian's packages (as root, or with sudo) when missing. Fails, saying why, when
# either cannot be had, so that no test is skipped for a missing service without anyone noticing.
set -u
PG_PORT=5432
REDIS_PORT=6379

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"
  else echo "needs root (or sudo without a password) to run: $*" >&2; return 1
  fi
}

apt_install() {
  command -v apt-get >/dev/null || { echo "apt-get is missing: install $* yourself" >&2; return 1; }
  echo "Installing $* from Debian's packages"
  { as_root apt-get update -q && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends "$@"; } >/dev/null
}

pg_up() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; }
redis_up() { (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null; }

ensure_postgres() {
  pg_up && return 0
  local fresh=no
  if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    apt_install postgresql || return 1
    fresh=yes
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  if [ "$fresh" = yes ]; then
    # The tests connect as postgres without a password, on loopback only (as on CI's machines).
    as_root sed -i '1i host all postgres 127.0.0.1/32 trust' "/etc/postgresql/$version/main/pg_hba.conf"
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 50); do pg_up && return 0; sleep 0.2; done
  echo "PostgreSQL $version did not come up on 127.0.0.1:$PG_PORT" >&2
  return 1
}

ensure_redis() {
  redis_up && return 0
  command -v redis-server >/dev/null || apt_install redis-server || return 1
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 50); do redis_up && return 0; sleep 0.2; done
  echo "Redis did not come up on 127.0.0.1:$REDIS_PORT" >&2
  return 1
}

failed=0
ensure_postgres || { echo "!! PostgreSQL could not be had: the PostgreSQL pass of the tests cannot run." >&2; failed=1; }
ensure_redis || { echo "!! Redis could not be had: the Redis pass of the tests cannot run." >&2; failed=1; }
exit $failed
