# syntax=docker/dockerfile:1
# The fast_zero service: `docker build -t fast_zero .` (README: Container).
# BASE_IMAGE: any Debian-like image with Python 3.11+ and its venv module,
# the same in both stages (the environment links to its interpreter).
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/venv
# The service runs from its checkout (alembic.ini and migrations/ beside
# the package), at the same path in both stages.
WORKDIR /app

# Dependencies first, in a layer of their own: a change to the code alone
# rebuilds only the small layers below. The service and its PostgreSQL
# drivers, no development tools. The optional `pip_ca` secret is a CA
# bundle for pip (behind a corporate proxy): mounted for the pip steps
# only, never stored in the image.
COPY pyproject.toml ./
RUN --mount=type=secret,id=pip_ca \
    if [ -s /run/secrets/pip_ca ]; then \
        export PIP_CERT=/run/secrets/pip_ca; \
    fi \
    && python3 -c 'import tomllib; project = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(project["dependencies"] + project["optional-dependencies"]["postgres"]))' \
        > /tmp/requirements.txt \
    && /opt/venv/bin/pip install -r /tmp/requirements.txt

# The package is linked into the environment, not copied (an editable
# install: the `fast-zero` command and a finder for /app/fast_zero), so
# the environment does not change with the code; linking needs only the
# package's top. pip and setuptools are not needed to run the service.
COPY README.md ./
COPY fast_zero/__init__.py ./fast_zero/
RUN --mount=type=secret,id=pip_ca \
    if [ -s /run/secrets/pip_ca ]; then \
        export PIP_CERT=/run/secrets/pip_ca; \
    fi \
    && /opt/venv/bin/pip install --no-deps --editable . \
    && /opt/venv/bin/python -m pip uninstall --yes --quiet pip setuptools \
    && /opt/venv/bin/python -m compileall -q /opt/venv


FROM ${BASE_IMAGE}
# An unprivileged user with fixed ids (volumes, Kubernetes runAsNonRoot).
ARG APP_UID=10001
RUN groupadd --gid "${APP_UID}" fast_zero \
    && useradd --uid "${APP_UID}" --gid fast_zero --no-log-init \
        --home-dir /app --no-create-home --shell /usr/sbin/nologin fast_zero \
    && mkdir /data && chown fast_zero:fast_zero /data

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY alembic.ini ./
COPY migrations ./migrations
COPY fast_zero ./fast_zero
# Compiled now: the service's user cannot write here.
RUN /opt/venv/bin/python -m compileall -q fast_zero migrations

# Production by default: the service refuses to start without a real
# SECRET_KEY. SQLite lives on the /data volume unless DATABASE_URL names
# PostgreSQL (postgresql+psycopg://... or postgresql+asyncpg://...).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production \
    DATABASE_URL=sqlite+aiosqlite:////data/fast_zero.db
VOLUME /data

USER ${APP_UID}:${APP_UID}
EXPOSE 8000
# Slim images have no curl: the image's own Python asks /health, which
# answers 200 only after a round trip to the database.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
# uvicorn drains and exits on SIGTERM (`docker stop`).
STOPSIGNAL SIGTERM
# The launcher: settings and schema pre-flight, migrations, then uvicorn
# (WEB_CONCURRENCY workers, default 1).
ENTRYPOINT ["fast-zero"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
