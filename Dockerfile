# syntax=docker/dockerfile:1
# ovc-api production image: a build stage installs the locked dependencies and the package
# into a virtualenv; the runtime stage gets that virtualenv and the migrations, nothing else.
#
#   docker build -t ovc-api .
#   docker run --rm --env-file ovc.env ovc-api ovc-api migrate   # once per release, as the owner
#   docker run -p 8000:8000 --env-file ovc.env ovc-api           # serve (as the app role)
#
# The base is pinned by digest beside its tag, so a rebuild gets the same Debian and Python.
# To bump it: `docker buildx imagetools inspect python:3.11-slim-bookworm` (or `docker pull`
# it and `docker inspect --format '{{index .RepoDigests 0}}' python:3.11-slim-bookworm`),
# put the new digest here, rebuild, and run the tests and `bash ../shared/tools/docker-smoke`.
FROM python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91 AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8

# --- the lock file as a hashed requirements list ---------------------------------------
FROM base AS lock
# UV_SYSTEM_CERTS: trust the system's CA store (ca-certificates), as pip does, so a build
# behind a TLS-inspecting proxy whose CA is installed there works too.
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 UV_NO_CACHE=1 UV_SYSTEM_CERTS=1
RUN python -m pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY pyproject.toml uv.lock ./
# --frozen: the lock file as committed, never re-resolved. Its output changes only when the
# locked runtime dependencies do, so the install layer below is rebuilt only then.
RUN uv export --frozen --no-dev --no-emit-project --no-header -o /requirements.txt

# --- build: dependencies (cached on the lock), then the package --------------------------
FROM base AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 UV_NO_CACHE=1 UV_SYSTEM_CERTS=1 \
    UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy
RUN python -m pip install --no-cache-dir uv==0.13.9 && uv venv /opt/venv
# Keyed on the exported list's content only: a change to pyproject.toml's tool settings
# leaves it byte-identical, and this layer cached.
COPY --from=lock /requirements.txt /tmp/requirements.txt
RUN uv pip install --python /opt/venv/bin/python --require-hashes --no-deps -r /tmp/requirements.txt
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN uv build --wheel --out-dir /tmp/wheels . \
    && uv pip install --python /opt/venv/bin/python --no-deps /tmp/wheels/*.whl \
    && /opt/venv/bin/python -c "import ovc_api.app, ovc_api.cli"

# --- runtime ---------------------------------------------------------------------------
FROM base AS runtime

# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can verify it.
RUN groupadd --gid 10001 ovc \
    && useradd --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin ovc \
    && mkdir -p /app /var/lib/ovc-api /tmp/ovc-metrics \
    && chown 10001:10001 /var/lib/ovc-api /tmp/ovc-metrics \
    && (python -m pip uninstall -y -q pip setuptools wheel >/dev/null 2>&1 || true)

COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY alembic.ini ./
COPY alembic ./alembic

ENV PATH=/opt/venv/bin:$PATH \
    OVC_ENVIRONMENT=production \
    OVC_DATA_DIR=/var/lib/ovc-api \
    OVC_WORKERS=2 \
    OVC_FORWARDED_ALLOW_IPS="" \
    PROMETHEUS_MULTIPROC_DIR=/tmp/ovc-metrics

# The default SQLite database (when OVC_DATABASE_URL is not set) and the data directory.
VOLUME ["/var/lib/ovc-api"]
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]

# Serves only. On PostgreSQL the schema is migrated by a one-off `ovc-api migrate` (the
# owner's credentials stay out of the serving containers); on the embedded SQLite database
# (one container, nothing to share) --migrate-sqlite brings its schema to head first.
# `ovc-api serve` passes OVC_FORWARDED_ALLOW_IPS to uvicorn's proxy-headers handling: set it
# to the reverse proxy's address; empty (the default) ignores X-Forwarded-For.
CMD ["ovc-api", "serve", "--host", "0.0.0.0", "--port", "8000", "--migrate-sqlite"]
