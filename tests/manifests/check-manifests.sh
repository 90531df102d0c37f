#!/usr/bin/env bash
# The Kubernetes manifests in share/kubernetes/ against the Kubernetes API's schema:
# kubernetes-models (npm, generated from the API's OpenAPI spec; types, enums and
# required fields, not unknown field names) through validate.mjs. The npm packages,
# pinned in package.json, are installed once into the cache.
#
# Usage: tests/manifests/check-manifests.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MANIFESTS=$HERE/../../share/kubernetes
command -v node >/dev/null && command -v npm >/dev/null \
    || { echo "check-manifests: node and npm missing (packages nodejs npm; scripts/install-deps.sh --test)" >&2; exit 1; }
cache=${XDG_CACHE_HOME:-$HOME/.cache}/vmitools/npm-manifests
stamp=$(sha256sum "$HERE/package.json" | cut -c1-16)
if [ "$(cat "$cache/stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$cache"
    mkdir -p "$cache"
    cp "$HERE/package.json" "$cache/"
    (cd "$cache" && npm install --no-audit --no-fund --loglevel=error >&2) \
        || { echo "check-manifests: npm install of kubernetes-models and yaml failed" >&2; exit 1; }
    echo "$stamp" > "$cache/stamp"
fi
cp "$HERE/validate.mjs" "$cache/"
node "$cache/validate.mjs" "$MANIFESTS"/*.yaml
