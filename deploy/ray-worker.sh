#!/usr/bin/env bash
# A Ray worker node: waits for the head, joins it and trains trials (one CPU each) until
# stopped. Never touches the database. Used by docker-compose.yml (service ray-worker, scale it
# with `docker-compose up --scale ray-worker=N`) and by the local-process tests.
#
# Env: RAY_HEAD (ray-head:6379), RAY_WORKER_CPUS (default: the CPUs Ray detects), WAIT_TIMEOUT
# (300 s for the head), RAY_START_ARGS (extra `ray start` options).
set -euo pipefail
cd "$(dirname "$0")"
RAY_HEAD=${RAY_HEAD:-ray-head:6379}
python wait_for.py tcp "$RAY_HEAD" --timeout "${WAIT_TIMEOUT:-300}"
# shellcheck disable=SC2086
exec ray start --address="$RAY_HEAD" ${RAY_WORKER_CPUS:+--num-cpus=$RAY_WORKER_CPUS} \
  --disable-usage-stats --block ${RAY_START_ARGS:-}
