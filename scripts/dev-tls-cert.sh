#!/usr/bin/env bash
# Writes a self-signed certificate for the compose file's nginx (deploy/nginx/tls/tls.crt and
# tls.key, gitignored), valid 30 days, unless both files exist. Usage: scripts/dev-tls-cert.sh [dir]
set -euo pipefail

dir="${1:-$(dirname "${BASH_SOURCE[0]}")/../deploy/nginx/tls}"
mkdir -p "$dir"
if [[ -s "$dir/tls.crt" && -s "$dir/tls.key" ]]; then
  echo "dev-tls-cert: $dir already has tls.crt and tls.key"
  exit 0
fi
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$dir/tls.key" -out "$dir/tls.crt" 2>/dev/null
chmod 600 "$dir/tls.key"
echo "dev-tls-cert: wrote $dir/tls.crt and $dir/tls.key"
