#!/usr/bin/env bash
# The official redis image's entrypoint contract: flags alone are redis-server's; redis-server
# runs as the redis user on /data, without protected mode (the container's network is the fence).
set -euo pipefail
if [[ "${1:-}" == -* ]]; then set -- redis-server "$@"; fi
if [[ "${1:-}" == redis-server ]]; then
  chown redis:redis /data
  shift
  exec setpriv --reuid=redis --regid=redis --init-groups redis-server --protected-mode no "$@"
fi
exec "$@"
