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
)

missing=()
for entry in "${TOOLS[@]}"; do
  cmd="${entry%%:*}"
  pkg="${entry#*:}"
  if ! command -v "$cmd" >/dev/null 2>&1; then
    # Deduplicate packages that provide several commands.
    if [[ " ${missing[*]-} " != *" $pkg "* ]]; then
      missing+=("$pkg")
    fi
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
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

echo "install-test-tools: installing ${missing[*]}"
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-test-tools: done"
