#!/usr/bin/env bash
# The launcher: waits for the database and the Ray head, joins the cluster as a zero-CPU Ray node
# (a Ray driver must run on a Ray node: connecting to the head's GCS address from a machine that
# runs none fails with "Failed to connect to Ray cluster"), runs `study-launch $STUDY_SPEC
# --ray-address auto` on that node, and exits with study-launch's code (0 done, 2 invalid spec,
# 130 stopped: run again to continue). Used by docker-compose.yml (service launcher) and by the
# local-process tests.
#
# Env: CAROUSEL_STORAGE (the database, written by the driver; password in $PGPASSWORD),
# STUDY_SPEC (studies/demo.toml), STUDY_ARGS (extra study-launch options, e.g. --max-in-flight 8),
# RAY_HEAD (ray-head:6379), WAIT_TIMEOUT (300 s for each of the two), RAY_START_ARGS,
# RAY_START_TRIES (3: a busy head can miss Ray's 30 s registration window for a new node).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
STUDY_SPEC=${STUDY_SPEC:-studies/demo.toml}
RAY_HEAD=${RAY_HEAD:-ray-head:6379}
: "${CAROUSEL_STORAGE:?CAROUSEL_STORAGE is not set}"
say() { echo "launcher: $*"; }

python "$HERE/wait_for.py" db "$CAROUSEL_STORAGE" --timeout "${WAIT_TIMEOUT:-300}" || exit 1
python "$HERE/wait_for.py" tcp "$RAY_HEAD" --timeout "${WAIT_TIMEOUT:-300}" || exit 1

# This node's own Ray folder: `--ray-address auto` then finds exactly this node's cluster.
RAY_TMPDIR=$(mktemp -d "${RAY_TMPDIR:-/tmp}/l.XXXXXX")
export RAY_TMPDIR
node=""
child=""
cleanup() {
  [ -n "$node" ] && kill -TERM "$node" 2>/dev/null && wait "$node" 2>/dev/null
  rm -rf "$RAY_TMPDIR"
}
stop() {  # SIGTERM / SIGINT: study-launch cancels its trials (they run again next time)
  say "stopping"
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
}
trap stop TERM INT
trap cleanup EXIT

start_node() {  # 0 when this node is up; Ray gives a node 30 s to register with the GCS
  # shellcheck disable=SC2086
  ray start --address="$RAY_HEAD" --num-cpus=0 --temp-dir="$RAY_TMPDIR/ray" \
    --disable-usage-stats --block ${RAY_START_ARGS:-} >>"$RAY_TMPDIR/node.log" 2>&1 &
  node=$!
  for _ in $(seq 1 "${WAIT_TIMEOUT:-300}"); do
    [ -s "$RAY_TMPDIR/ray/ray_current_cluster" ] && return 0
    kill -0 "$node" 2>/dev/null || return 1
    sleep 1
  done
  return 1
}
tries=${RAY_START_TRIES:-3}
for try in $(seq 1 "$tries"); do
  start_node && break
  kill -TERM "$node" 2>/dev/null
  wait "$node" 2>/dev/null
  node=""
  if [ "$try" = "$tries" ]; then
    tail -20 "$RAY_TMPDIR/node.log" >&2
    say "this container's Ray node did not start ($tries tries)" >&2
    exit 1
  fi
  say "this container's Ray node did not start (try $try of $tries); again in 5 s" >&2
  sleep 5
done
say "joined $RAY_HEAD as a zero-CPU Ray node; running $STUDY_SPEC"

# shellcheck disable=SC2086
study-launch "$STUDY_SPEC" --ray-address auto --no-progress ${STUDY_ARGS:-} &
child=$!
while :; do  # `wait` returns early when a trapped signal arrives: wait until it really exits
  wait "$child"
  rc=$?
  kill -0 "$child" 2>/dev/null || break
done
say "study-launch exited with $rc"
exit "$rc"
