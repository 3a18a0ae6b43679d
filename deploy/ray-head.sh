#!/usr/bin/env bash
# The Ray head: the cluster's GCS and its dashboard, with no CPUs, so no trial ever runs here
# (workers train; the head only schedules). Used by docker-compose.yml (service ray-head) and by
# the local-process tests.
#
#   deploy/ray-head.sh           # run in the foreground (ray start --block)
#   deploy/ray-head.sh health    # exit 0 when the GCS and the dashboard answer (healthcheck)
#
# Env: RAY_PORT (6379), RAY_DASHBOARD_HOST (0.0.0.0: inside a container; the host publishes it
# only when asked), RAY_DASHBOARD_PORT (8265), RAY_START_ARGS (extra `ray start` options),
# RAY_DASHBOARD_STARTUP_TIMEOUT_S (300: Ray's 60 s default kills a head on a busy small machine).
set -euo pipefail
cd "$(dirname "$0")"
RAY_PORT=${RAY_PORT:-6379}
RAY_DASHBOARD_PORT=${RAY_DASHBOARD_PORT:-8265}
if [ "${1:-}" = health ]; then
  python wait_for.py tcp "127.0.0.1:$RAY_PORT" --timeout 0 \
    && exec python wait_for.py tcp "127.0.0.1:$RAY_DASHBOARD_PORT" --timeout 0
  exit 1
fi
export RAY_DASHBOARD_STARTUP_TIMEOUT_S=${RAY_DASHBOARD_STARTUP_TIMEOUT_S:-300}
# shellcheck disable=SC2086  # RAY_START_ARGS is a list of options
exec ray start --head --port="$RAY_PORT" --num-cpus=0 --include-dashboard=true \
  --dashboard-host="${RAY_DASHBOARD_HOST:-0.0.0.0}" --dashboard-port="$RAY_DASHBOARD_PORT" \
  --disable-usage-stats --block ${RAY_START_ARGS:-}
