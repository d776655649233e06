#!/usr/bin/env bash
# Builds the images of the container tests with podman, from this checkout, under a lock (test
# files that need them at once build them once; podman's layer cache makes a build of an
# unchanged checkout quick):
#   app        the Node 24 base (scripts/podman-node-base.sh: Debian 12 from debootstrap plus the
#              npm registry's Node 24, standing in for node:24-bookworm-slim, which cannot be
#              pulled here) and the app image from the Dockerfile on it.
#   stand-ins  images that stand in for the official postgres, redis, nginx and minio images of
#              docker-compose.yml, built on that base from Debian packages (and s3rver for minio),
#              with the official images' environment contract (test/containers/stand-ins/).
# Usage: test/containers/images.sh app|stand-ins
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$root/deploy/podman/containers.conf}"

BASE=localhost/cfn-node24-bookworm:24.22.3
APP=localhost/claude-flow-novice:ci

what="${1:-}"
case "$what" in
  app | stand-ins) ;;
  *)
    echo "usage: $0 app|stand-ins" >&2
    exit 2
    ;;
esac

for cmd in podman flock; do
  command -v "$cmd" >/dev/null 2>&1 || {
    echo "images.sh: $cmd is missing: run scripts/install-test-tools.sh" >&2
    exit 1
  }
done

exec 9>"${TMPDIR:-/tmp}/cfn-podman-images.lock"
flock 9

bash scripts/podman-node-base.sh "$BASE" >&2

build() {
  local started=$SECONDS
  echo "images.sh: building $1" >&2
  shift
  podman build --network host --format docker --build-arg "NODE_IMAGE=$BASE" "$@" >&2
  echo "images.sh: built in $((SECONDS - started)) s" >&2
}

case "$what" in
  app)
    version="$(node -p 'require("./package.json").version')"
    commit="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
    build "$APP" --build-arg "VERSION=$version" --build-arg "VCS_REF=$commit" -t "$APP" .
    ;;
  stand-ins)
    dir=test/containers/stand-ins
    for name in postgres redis nginx minio; do
      build "$name" -f "$dir/$name.Containerfile" -t "localhost/cfn-stand-in-$name:ci" "$dir"
    done
    ;;
esac
