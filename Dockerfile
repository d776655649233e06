# syntax=docker/dockerfile:1
# The claude-flow-novice image: one image for every role (`cfn start`, `cfn serve`, `cfn worker`,
# the backup and maintenance jobs). Build: docker build -t claude-flow-novice:0.1.0 \
#   --build-arg VERSION=0.1.0 --build-arg VCS_REF=$(git rev-parse --short=12 HEAD) .
# With podman, add --format docker: the OCI image format cannot hold the HEALTHCHECK.
# NODE_IMAGE must be a Debian-based image with Node.js 24 and npm on PATH: by default the official
# Node 24 LTS slim image on Debian 12 (bookworm), whose postgresql-client is 15, the major of our
# PostgreSQL. node:24-slim is Debian 13 now, with client 17: pg_dump 17 writes
# `SET transaction_timeout`, which PostgreSQL 15 refuses, so its dumps would not restore.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` (the build) needs the sources, copied below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/postbuild.mjs scripts/
COPY src src
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG VCS_REF=
# Where the sources are published (no public repository yet: empty unless given).
ARG SOURCE_URL=
LABEL org.opencontainers.image.title="claude-flow-novice" \
      org.opencontainers.image.description="Runs swarms of AI agents (the CFN Loop) as a durable, observable service" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="MIT"
# tini: PID 1 that forwards signals to node and reaps the commands the service runs.
# postgresql-client: pg_dump/psql for database backups and restores on PostgreSQL.
# bubblewrap: the command sandbox of agents' commands (needs user namespaces where it runs).
# iputils-ping: the guide's `docker-compose exec claude-flow-novice ping postgres`.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      tini postgresql-client bubblewrap ca-certificates iputils-ping \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 cfn \
 && useradd --system --uid 10001 --gid cfn --home-dir /data/home --no-create-home \
      --shell /usr/sbin/nologin cfn \
 && mkdir -p /data && chown cfn:cfn /data
ENV NODE_ENV=production \
    PORT=3000 \
    CFN_DATA_DIR=/data \
    CFN_BUILD_COMMIT=${VCS_REF} \
    MALLOC_ARENA_MAX=2
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist dist
RUN ln -s /app/dist/main/bin.js /usr/local/bin/cfn
USER 10001:10001
VOLUME ["/data"]
EXPOSE 3000
# Exit 0 only when /health answers 200 (every dependency up).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD node /app/dist/main/bin.js health --url "http://127.0.0.1:${PORT:-3000}" >/dev/null || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/main/bin.js"]
CMD ["start"]
