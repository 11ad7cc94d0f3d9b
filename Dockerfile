# Vigil as a container: small, non-root, state on a volume, configuration mounted read-only.
#
#   docker build -t vigil .
#   docker run -d --name vigil -v vigil-state:/state --env-file vigil.env vigil
#
# The base is the official slim Python image. tests/container/build_and_smoke.sh builds this
# same file offline against a local Debian stand-in tagged with the same name.
ARG PYTHON_IMAGE=docker.io/library/python:3.11-slim

# ---------------------------------------------------------------------------------- build stage
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
# A wheel of Vigil itself, then a venv holding it and its dependencies, resolved from the pinned
# ranges in pyproject.toml. Only the venv reaches the final stage: no build tools, no caches.
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/vigil \
 && /opt/vigil/bin/python -m pip install /wheels/vigil_bot-*.whl \
 && /opt/vigil/bin/vigil --version

# ---------------------------------------------------------------------------------- final stage
FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG PYTHON_IMAGE
LABEL org.opencontainers.image.title="Vigil" \
      org.opencontainers.image.description="Watches the feeds of ministries, courts and UN bodies and alerts Telegram chats when a statement mentions a tracked topic." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}" \
      org.opencontainers.image.documentation="docs/operations.md"

# uid/gid 10001: no clash with users on the host, never root.
RUN groupadd --system --gid 10001 vigil \
 && useradd --system --uid 10001 --gid 10001 --home-dir /state --no-create-home \
            --shell /usr/sbin/nologin vigil \
 && mkdir -p /state /config \
 && chown 10001:10001 /state \
 && chmod 0750 /state

COPY --from=build /opt/vigil /opt/vigil
# The bundled feeds.yaml is the default; mount your own directory over /config (read-only).
COPY feeds.yaml /config/feeds.yaml

# The token comes only from the environment at run time: TELEGRAM_BOT_TOKEN, or a file named by
# TELEGRAM_BOT_TOKEN_FILE (a Docker/compose secret). Nothing secret is baked into the image.
# The HTTP listener (/healthz, /metrics) stays off until VIGIL_HTTP_PORT is set; when it is,
# it listens on every interface of the container.
ENV PATH=/opt/vigil/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIGIL_STATE_DIR=/state \
    VIGIL_CONFIG=/config/feeds.yaml \
    VIGIL_HTTP_HOST=0.0.0.0

USER 10001:10001
WORKDIR /state
VOLUME ["/state"]

# Vigil stops scheduling, gives in-flight work a short grace and exits well inside Docker's 10 s.
STOPSIGNAL SIGTERM
# Reads the state database: recent scheduler heartbeat, writable database, outbox moving.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["vigil", "health"]

ENTRYPOINT ["vigil"]
CMD ["run"]
