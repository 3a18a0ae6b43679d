#!/usr/bin/env bash
# A Ray worker node: waits for the head, joins it and trains trials (one CPU each) until
# stopped. Never touches the database. Used by docker-compose.yml (service ray-worker, scale it
# with `docker-compose up --scale ray-worker=N`) and by the local-process tests.
#
# Env: RAY_HEAD (ray-head:6379), RAY_WORKER_CPUS (default: the CPUs Ray detects), WAIT_TIMEOUT
# (300 s for the head), RAY_START_ARGS (extra `ray start` options), RAY_WORKER_NICE (10: trials
# are batch work; on a host shared with the dashboard or the driver, those keep answering).
set -uo pipefail
cd "$(dirname "$0")"
RAY_HEAD=${RAY_HEAD:-ray-head:6379}
python wait_for.py tcp "$RAY_HEAD" --timeout "${WAIT_TIMEOUT:-300}" || exit 1
# A node that cannot register within Ray's 30 s (a busy head) is started again, up to
# RAY_START_TRIES (3) times; a node that ran and then died ends the service.
node=""
trap '[ -n "$node" ] && kill -TERM "$node"' TERM INT
tries=${RAY_START_TRIES:-3}
for try in $(seq 1 "$tries"); do
  started=$SECONDS
  # shellcheck disable=SC2086
  nice -n "${RAY_WORKER_NICE:-10}" ray start --address="$RAY_HEAD" ${RAY_WORKER_CPUS:+--num-cpus=$RAY_WORKER_CPUS} \
    --disable-usage-stats --block ${RAY_START_ARGS:-} &
  node=$!
  while :; do  # `wait` returns early when a trapped signal arrives
    wait "$node"
    rc=$?
    kill -0 "$node" 2>/dev/null || break
  done
  if [ "$rc" = 0 ] || [ $((SECONDS - started)) -gt 120 ] || [ "$try" = "$tries" ]; then
    exit "$rc"
  fi
  echo "ray-worker.sh: the node did not start (try $try of $tries); again in 5 s" >&2
  sleep 5
done
