#!/usr/bin/env bash
# Builds (once) a Debian root with OBS Studio and Xvfb, cached outside the checkout, one directory
# per suite: trixie (OBS 30.2.3, obs-websocket 5.5) or sid (OBS 32.2.2 when written, obs-websocket
# 5.7). Bookworm's own obs-studio (29) is too old for obws 0.15, so OBS runs from such a root via
# chroot.
#
# Usage: scripts/obs-root.sh [trixie|sid]   (default: $OBS_E2E_SUITE, else trixie)
# Prints the root's path on stdout. Safe to run repeatedly and concurrently: a finished root is
# reused, and a lock makes a second caller wait for the first one's build instead of racing it.
set -euo pipefail
SUITE=${1:-${OBS_E2E_SUITE:-trixie}}
case "$SUITE" in
trixie) APTOPTS=() ;;
# sid's Release file is only valid for a few days; a mirror that lags (or a snapshot) would be
# refused without this.
sid) APTOPTS=(--aptopt='Acquire::Check-Valid-Until "false"') ;;
*)
  echo "obs-root.sh: unknown suite '$SUITE' (trixie or sid)" >&2
  exit 2
  ;;
esac
CACHE_DIR=${OBS_HUB_CACHE:-/var/cache/obs-hub}
ROOT="$CACHE_DIR/$SUITE-root"
ready() { [ -x "$ROOT/usr/bin/obs" ] && [ -f "$ROOT/.obs-hub-ready" ]; }
if ready; then
  echo "$ROOT"; exit 0
fi
mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/$SUITE-root.lock"
flock 9
if ready; then # built by whoever held the lock
  echo "$ROOT"; exit 0
fi
if ! command -v mmdebstrap >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >&2
fi
MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
TAR="$CACHE_DIR/$SUITE-root.tar"
rm -f "$TAR"
mmdebstrap --variant=apt "${APTOPTS[@]}" \
  --include=obs-studio,xvfb,xauth,libgl1-mesa-dri,ca-certificates,dbus \
  --components=main "$SUITE" "$TAR" "$MIRROR" >&2
# A half-built root can still have proc and /dev mounted from an OBS started on it: removing it
# then would remove the host's /dev nodes.
if grep -qF " $ROOT/" /proc/mounts; then
  echo "obs-root.sh: something is mounted under $ROOT; run scripts/real-obs.sh stop first" >&2
  exit 1
fi
rm -rf "$ROOT"; mkdir -p "$ROOT"
tar -xf "$TAR" -C "$ROOT"
rm -f "$TAR"
touch "$ROOT/.obs-hub-ready"
echo "$ROOT"
