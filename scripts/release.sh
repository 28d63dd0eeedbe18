#!/bin/sh
# Publishes every @sluice package whose version is not on the registry yet: run it after
# `npm run version-packages` (changeset version) has been committed. Extra arguments go to
# `changeset publish` (e.g. --tag next, --no-git-tag). The registry, and its token, come from npm's
# configuration as for any npm publish.
set -e
cd "$(dirname "$0")/.."
PNPM_VERSION=12.4.2
# changeset publish runs `pnpm publish`, which turns workspace: ranges into the versions being
# published; make sure that is the pinned pnpm, even where none is installed.
if [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  shim=$(mktemp -d)
  trap 'rm -rf "$shim"' EXIT
  # One npx for the path of its cached bin, rather than one npx per package published.
  ln -s "$(npx -y -p "pnpm@$PNPM_VERSION" sh -c 'command -v pnpm')" "$shim/pnpm"
  PATH="$shim:$PATH"
  export PATH
fi
npx tsc -b
# The bundle of prom-client's modules that --metrics loads (dist/metrics/prom-client-<version>.cjs).
node scripts/bundle-prom-client.mjs
node scripts/check-packages.mjs
npx changeset publish "$@"
