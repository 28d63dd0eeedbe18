#!/bin/sh
# Installs the workspace with the pinned pnpm and builds it.
# Native modules (better-sqlite3) build from source here, and pnpm does not pass npm's
# nodedir (the Node headers folder) on to build scripts, so we export it ourselves.
set -e
cd "$(dirname "$0")/.."
if [ -z "${npm_config_nodedir:-}" ]; then
  nodedir=$(npm config get nodedir 2>/dev/null || true)
  if [ -n "$nodedir" ] && [ "$nodedir" != "undefined" ] && [ "$nodedir" != "null" ]; then
    export npm_config_nodedir="$nodedir"
  fi
fi
PNPM="npx -y pnpm@12.4.2"
$PNPM install --frozen-lockfile=false --config.confirmModulesPurge=false
$PNPM run build
