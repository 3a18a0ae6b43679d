# One image for every carousel service (Ray head/worker, launcher, dashboard); the service scripts
# in deploy/ are what each container runs (docker-compose.yml). Build arguments:
#   PYTHON_IMAGE     the base image (default python:3.11-slim; any image with Python 3.11 and its
#                    venv module, e.g. a stand-in built from Debian by deploy/base-images.sh)
#   TORCH_INDEX_URL  where torch's CPU wheel comes from (default: PyTorch's CPU index)
#   OFFLINE          1: install everything from ./wheelhouse only, no index at all
#                    (`make wheelhouse` fills it on a machine with an index; see README)
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE} AS build
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG OFFLINE=0
COPY wheelhouse /wheelhouse
COPY pyproject.toml /app/
# an editable install of empty packages: this layer depends on pyproject.toml only (not on the
# README or the sources), and the final stage puts the sources at the same paths
RUN touch /app/README.md \
 && for p in models workers study dashboard; do mkdir -p /app/$p && touch /app/$p/__init__.py; done \
 && python -m venv /opt/venv \
 && if [ "$OFFLINE" = 1 ]; then \
      /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheelhouse \
        torch==2.13.0 setuptools wheel \
      && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheelhouse \
        --no-build-isolation -e '/app[cluster]'; \
    else \
      /opt/venv/bin/pip install --no-cache-dir torch==2.13.0 --index-url "$TORCH_INDEX_URL" \
      && /opt/venv/bin/pip install --no-cache-dir -e '/app[cluster]'; \
    fi

FROM ${PYTHON_IMAGE}
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONUNBUFFERED=1 \
    NUMBA_CACHE_DIR=/app/.numba-cache
WORKDIR /app
COPY models models
COPY workers workers
# compile the numba kernels into the image: worker containers start warm
COPY deploy/warmup.py /tmp/warmup.py
RUN PYTHONPATH=/app python /tmp/warmup.py && rm /tmp/warmup.py
COPY pyproject.toml README.md ./
COPY study study
COPY dashboard dashboard
COPY studies studies
COPY deploy deploy
