# ovc-api production image: migrations, then several uvicorn workers.
# Configure with OVC_* variables (see README); OVC_ENVIRONMENT=production refuses weak secrets.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OVC_ENVIRONMENT=production \
    OVC_DATA_DIR=/var/lib/ovc-api \
    OVC_WORKERS=2 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/ovc-metrics

WORKDIR /app

RUN groupadd --system ovc && useradd --system --gid ovc --home-dir /app --no-create-home ovc \
    && mkdir -p /var/lib/ovc-api /tmp/ovc-metrics && chown ovc:ovc /var/lib/ovc-api /tmp/ovc-metrics

# Dependencies first, in their own cached layer: only pyproject.toml invalidates it.
COPY pyproject.toml ./
RUN mkdir -p src/ovc_api && touch src/ovc_api/__init__.py README.md \
    && pip install . && pip uninstall -y ovc-api && rm -rf src README.md

# Then the application itself.
COPY README.md alembic.ini ./
COPY alembic ./alembic
COPY src ./src
COPY openapi ./openapi
RUN pip install --no-deps . && python -c "import ovc_api.app"

USER ovc
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"

CMD ["sh", "-c", "ovc-api migrate && exec ovc-api serve --host 0.0.0.0 --port 8000 --workers ${OVC_WORKERS}"]
