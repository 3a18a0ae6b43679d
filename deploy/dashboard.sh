#!/usr/bin/env bash
# The dashboard: serves the robustness maps of $CAROUSEL_STORAGE. In compose it connects as the
# read-only role (its password in $PGPASSWORD, never in the URL). Used by docker-compose.yml
# (service dashboard) and by the local-process tests.
#
#   deploy/dashboard.sh           # run in the foreground
#   deploy/dashboard.sh health    # exit 0 when Streamlit's health endpoint answers
#
# Env: CAROUSEL_STORAGE, DASHBOARD_HOST (127.0.0.1: local only; compose sets 0.0.0.0 inside the
# container and publishes it on the host's loopback), DASHBOARD_PORT (8501).
set -euo pipefail
cd "$(dirname "$0")"
HOST=${DASHBOARD_HOST:-127.0.0.1}
PORT=${DASHBOARD_PORT:-8501}
if [ "${1:-}" = health ]; then
  exec python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$PORT/_stcore/health', timeout=5)"
fi
exec carousel-dashboard --storage "${CAROUSEL_STORAGE:?CAROUSEL_STORAGE is not set}" \
  --host "$HOST" --port "$PORT"
