#!/usr/bin/env bash
# Builds (once) a Debian trixie root with OBS Studio 30.2 and Xvfb, cached outside the checkout.
# Bookworm's own obs-studio (29) is too old for obws 0.15, so OBS runs from this root via chroot.
# Prints the root's path on stdout. Safe to run repeatedly: a finished root is reused.
set -euo pipefail
CACHE_DIR=${OBS_HUB_CACHE:-/var/cache/obs-hub}
ROOT="$CACHE_DIR/trixie-root"
if [ -x "$ROOT/usr/bin/obs" ] && [ -f "$ROOT/.obs-hub-ready" ]; then
  echo "$ROOT"; exit 0
fi
mkdir -p "$CACHE_DIR"
if ! command -v mmdebstrap >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >&2
fi
MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
TAR="$CACHE_DIR/trixie-root.tar"
rm -f "$TAR"
mmdebstrap --variant=apt \
  --include=obs-studio,xvfb,xauth,libgl1-mesa-dri,ca-certificates,dbus \
  --components=main trixie "$TAR" "$MIRROR" >&2
rm -rf "$ROOT"; mkdir -p "$ROOT"
tar -xf "$TAR" -C "$ROOT"
rm -f "$TAR"
touch "$ROOT/.obs-hub-ready"
echo "$ROOT"
