# One image for every carousel service (Ray head/worker, study driver, dashboard).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY models models
COPY workers workers
COPY study study
COPY dashboard dashboard
COPY studies studies
# torch pinned to the CPU build; the rest from pyproject.toml
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install --no-cache-dir .
ENV OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONUNBUFFERED=1
