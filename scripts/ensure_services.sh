#!/usr/bin/env bash
# Start PostgreSQL and Redis on 127.0.0.1 when they are not already answering.
set -u
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  else
    echo "PostgreSQL is not running on 127.0.0.1:5432 and pg_ctlcluster is missing: the scale-out tests will be skipped." >&2
  fi
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  if command -v redis-server >/dev/null; then
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  else
    echo "Redis is not running on 127.0.0.1:6379 and redis-server is missing: the scale-out tests will be skipped." >&2
  fi
fi
exit 0
