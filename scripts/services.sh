#!/usr/bin/env bash
# Start PostgreSQL and Redis on loopback when they are not already up (the tests use both), and
# install the Debian packages the tests run when they are missing: Chromium (the web UI's tests
# drive it through Playwright), Prometheus with promtool (the monitoring tests scrape a real
# slipway server with it), and wrk (the HTTP load client benchmarks/online_features.py drives both
# feature servers with; CI runs no benchmark, but installing it here keeps it reproducible).
set -u
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
{ command -v prometheus && command -v promtool; } >/dev/null 2>&1 || missing="$missing prometheus"
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
if [ -n "$missing" ]; then
  echo "installing (apt):$missing"
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  # shellcheck disable=SC2086
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null || true
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
  for _ in $(seq 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 && redis-cli -h 127.0.0.1 -p 6379 ping && command -v prometheus promtool chromium
