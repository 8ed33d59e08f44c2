# syntax=docker/dockerfile:1
# MCP Gateway container image: one image, three roles (web, worker, migrate) chosen by the command.
#
# The base is pinned by exact version. Pinning by digest as well
# (python:3.11.14-slim-bookworm@sha256:...) is better still; the digest cannot be looked up from
# the offline development machine, so add it with the first build that has registry access and let
# Dependabot/Renovate keep it current.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- builder: a virtualenv with the pinned runtime dependencies --------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /build
COPY requirements.txt constraints.txt ./
# Every dependency ships a manylinux wheel, so no compiler is installed; pip is still kept out of
# the final image's build steps.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt -c constraints.txt

# --- runtime: the venv, the application and its collected static files ---------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=mcp_site.settings \
    DJANGO_ENV=production

# A fixed, unprivileged UID/GID that the Kubernetes securityContext names too (runAsUser: 10001).
RUN groupadd --system --gid 10001 app \
    && useradd --system --no-log-init --uid 10001 --gid app \
        --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# Application files stay owned by root: the app user can read but never modify its own code.
COPY . .

# Static files are collected at build time (served by whitenoise), so the root filesystem can be
# read-only at run time. The key below only satisfies settings during this step; it is not secret
# and is not kept in the image's environment.
RUN SECRET_KEY=build-only-not-secret DJANGO_BUILD=1 python manage.py collectstatic --noinput \
    && python -m compileall -q /app \
    && chmod 0755 /app/docker/entrypoint.sh

USER 10001:10001
EXPOSE 8000

# No HEALTHCHECK: the same image runs web, worker and migrate, and one check cannot fit all three.
# Kubernetes probes (k8s/base) check the web role on /healthz and /readyz.
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["web"]
