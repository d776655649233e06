#!/usr/bin/env bash
# Installs the Debian packages the tests need, when their commands are missing.
# Idempotent; does nothing (and skips apt-get update) when everything is present.
# Usage: scripts/install-test-tools.sh
set -euo pipefail

if [[ $# -ne 0 ]]; then
  echo "usage: $0 (takes no arguments)" >&2
  exit 2
fi

# command:debian-package pairs.
TOOLS=(
  psql:postgresql-client
  pg_dump:postgresql-client
  redis-cli:redis-tools
  curl:curl
  nginx:nginx
  openssl:openssl
  prometheus:prometheus
  promtool:prometheus
  prometheus-alertmanager:prometheus-alertmanager
  amtool:prometheus-alertmanager
  yamllint:yamllint
  shellcheck:shellcheck
  pgbackrest:pgbackrest
  bwrap:bubblewrap
  # test/deploy renders the kustomizations with `kubectl kustomize` (kustomize v5: kubectl 1.27+).
  # The project's machines have one (google-cloud-cli's kubectl 1.32); Debian 12's
  # kubernetes-client is 1.20, too old for components, which test/deploy then says.
  kubectl:kubernetes-client
  # test/containers/: the image, podman kube play and the compose stack, run with podman (rootful,
  # runc, netavark with aardvark-dns for service names: deploy/podman/containers.conf), the Node 24
  # base from debootstrap, and catatonit for the pods' infra containers.
  podman:podman
  runc:runc
  debootstrap:debootstrap
  /usr/lib/podman/netavark:netavark
  /usr/lib/podman/aardvark-dns:aardvark-dns
  catatonit:catatonit
)

# A command on PATH, or an absolute path to an executable.
present() { if [[ "$1" == /* ]]; then [[ -x "$1" ]]; else command -v "$1" >/dev/null 2>&1; fi; }

missing=()
for entry in "${TOOLS[@]}"; do
  cmd="${entry%%:*}"
  pkg="${entry#*:}"
  if ! present "$cmd"; then
    # Deduplicate packages that provide several commands.
    if [[ " ${missing[*]-} " != *" $pkg "* ]]; then
      missing+=("$pkg")
    fi
  fi
done

# podman-compose 1.0.6 or later, from bookworm-backports where Debian 12's (1.0.3) is what apt
# has: 1.0.3 ignores network aliases, which nginx's upstream servers (app1, app2) are.
compose_ok() {
  local v
  v="$(dpkg-query -W -f='${Version}' podman-compose 2>/dev/null || true)"
  [[ -n "$v" ]] && dpkg --compare-versions "$v" ge 1.0.6
}
compose_missing=0
compose_ok || compose_missing=1

if [[ ${#missing[@]} -eq 0 && "$compose_missing" -eq 0 ]]; then
  echo "install-test-tools: all test tools present"
  exit 0
fi

# curl without recommends lacks the CA bundle; add it so https works.
if [[ " ${missing[*]} " == *" curl "* ]]; then
  missing+=(ca-certificates)
fi

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "install-test-tools: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  }
  SUDO=(sudo)
fi

# Debian's prometheus and prometheus-alertmanager packages start their services (ports 9090,
# 9093) from init scripts on install. The tests never use them (they start their own servers on
# free loopback ports), so forbid service starts during the install unless a policy exists.
POLICY=/usr/sbin/policy-rc.d
if [[ ! -e "$POLICY" ]]; then
  printf '#!/bin/sh\n# install-test-tools: no service starts during the install\nexit 101\n' |
    "${SUDO[@]}" tee "$POLICY" >/dev/null
  "${SUDO[@]}" chmod 755 "$POLICY"
  trap '"${SUDO[@]}" rm -f "$POLICY"' EXIT
fi

# shellcheck source=/dev/null
. /etc/os-release
if [[ "$compose_missing" -eq 1 ]]; then
  if [[ "${VERSION_CODENAME:-}" == bookworm ]]; then
    BACKPORTS=/etc/apt/sources.list.d/cfn-bookworm-backports.sources
    if [[ ! -e "$BACKPORTS" ]]; then
      printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm-backports' \
        'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' |
        "${SUDO[@]}" tee "$BACKPORTS" >/dev/null
    fi
  fi
fi

"${SUDO[@]}" apt-get update -qq
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "install-test-tools: installing ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
fi
if [[ "$compose_missing" -eq 1 ]]; then
  echo "install-test-tools: installing podman-compose (1.0.6 or later)"
  target=()
  [[ "${VERSION_CODENAME:-}" == bookworm ]] && target=(-t bookworm-backports)
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${target[@]}" podman-compose
  compose_ok || {
    echo "install-test-tools: podman-compose is older than 1.0.6" >&2
    exit 1
  }
fi
echo "install-test-tools: done"
