#!/usr/bin/env bash
# Control a real, headless OBS Studio (30.2 from a Debian trixie root, or 32.2 from a Debian sid
# root, both cached by scripts/obs-root.sh, run through chroot + Xvfb) plus a local nginx-rtmp
# stream target, for the end-to-end tests in tests/real_obs/. Needs root (chroot, mount).
#
# Usage: scripts/real-obs.sh start|stop|status|start-obs|stop-obs|kill-obs|restart-obs|env
#   start        ensure the root and host packages, start nginx-rtmp (127.0.0.1:1935), start OBS
#   stop         stop OBS and nginx, unmount proc/dev from the root; safe to repeat
#   start-obs    start only OBS (fresh default profile and scene collection), wait for the port
#   stop-obs     stop only OBS, gracefully (SIGINT; SIGTERM/SIGKILL after a grace period)
#   kill-obs     SIGKILL OBS, Xvfb and xvfb-run at once, like a crash (no WebSocket close frame)
#   freeze-obs   SIGSTOP OBS (a frozen OBS: sockets open, nothing answers); thaw-obs: SIGCONT
#   restart-obs  stop-obs then start-obs
#   stop-nginx   stop only nginx-rtmp (a stream's output then reconnects); start-nginx: again
#   status       what runs, whether the port is open, what is mounted
#   env          print the OBS_E2E_* variables the tests read (eval-able)
#
# Settings (environment):
#   OBS_E2E_SUITE     which OBS: trixie (30.2) or sid (32.2). start defaults to trixie; the
#                     other commands default to the suite of the running (last started) OBS
#   OBS_E2E_STATE     state dir for logs, pid files, nginx config  (default /tmp/obs-hub-real-obs)
#   OBS_E2E_PORT      obs-websocket port                           (default 4455)
#   OBS_E2E_PASSWORD  obs-websocket password                       (default obs-hub-e2e-secret)
#   OBS_E2E_RTMP_PORT nginx-rtmp port on 127.0.0.1                 (default 1935)
#   OBS_E2E_START_TIMEOUT seconds to wait for the WebSocket port   (default 60)
#   OBS_HUB_CACHE     where obs-root.sh keeps the root             (default /var/cache/obs-hub)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${OBS_E2E_STATE:-/tmp/obs-hub-real-obs}
PORT=${OBS_E2E_PORT:-4455}
PASSWORD=${OBS_E2E_PASSWORD:-obs-hub-e2e-secret}
RTMP_PORT=${OBS_E2E_RTMP_PORT:-1935}
START_TIMEOUT=${OBS_E2E_START_TIMEOUT:-60}
CACHE_DIR=${OBS_HUB_CACHE:-/var/cache/obs-hub}
OBS_HOME_IN_ROOT=/home/x

OBS_PIDFILE="$STATE/obs.pid"        # pid of the chroot/xvfb-run process == its process group id
OBS_LOG="$STATE/obs.log"
NGINX_DIR="$STATE/nginx"
NGINX_CONF="$NGINX_DIR/nginx.conf"
NGINX_PIDFILE="$NGINX_DIR/nginx.pid"
NGINX_LOG="$STATE/nginx-error.log"

say() { printf '[real-obs] %s\n' "$*"; }
warn() { printf '[real-obs] %s\n' "$*" >&2; }
die() { warn "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (chroot and mount)"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# The suite asked for, else (for every command but start) the one last started, else trixie.
wanted_suite() {
  if [ -n "${OBS_E2E_SUITE:-}" ]; then
    echo "$OBS_E2E_SUITE"
  elif [ "${1:-}" != start ] && [ -s "$STATE/suite" ]; then
    cat "$STATE/suite"
  else
    echo trixie
  fi
}

# The root: the one recorded at start, else obs-root.sh's location for the suite (no build on
# stop).
known_root() {
  if [ -s "$STATE/root" ]; then cat "$STATE/root"; else echo "$CACHE_DIR/$SUITE-root"; fi
}

# The OBS package version inside a root, e.g. 32.2.2+dfsg-1 (read from its dpkg database).
root_obs_version() { # root
  dpkg-query --admindir="$1/var/lib/dpkg" -W -f='${Version}' obs-studio 2>/dev/null || echo unknown
}

ensure_root() {
  local root
  root=$(bash "$HERE/obs-root.sh" "$SUITE")
  [ -x "$root/usr/bin/obs" ] || die "obs-root.sh did not produce a root with OBS: $root"
  # An OBS from another suite's root still running would answer on the port in place of the one
  # asked for: a test pass would then report the wrong version. Refuse instead.
  if [ "$(known_root)" != "$root" ] && obs_running; then
    die "OBS from $(known_root) is still running; '$0 stop' it before starting the $SUITE one"
  fi
  mkdir -p "$STATE"
  echo "$root" >"$STATE/root"
  echo "$SUITE" >"$STATE/suite"
  ROOT=$root
}

port_open() { # port -> 0 if something accepts TCP on 127.0.0.1:port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# ---------------------------------------------------------------- host packages and nginx

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

ensure_host_packages() {
  local missing=() p
  for p in nginx-light libnginx-mod-rtmp; do pkg_installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing host packages: ${missing[*]}"
  mkdir -p "$STATE"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
    >"$STATE/apt.log" 2>&1; then
    tail -n 30 "$STATE/apt.log" >&2
    die "apt-get install ${missing[*]} failed"
  fi
}

nginx_pid() {
  local pid
  pid=$(cat "$NGINX_PIDFILE" 2>/dev/null || true)
  if alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = nginx ]; then echo "$pid"; fi
}

# nginx masters started with our config file, found through their command line (covers a state
# dir that was deleted while nginx ran). Matches the exact config path, nothing broader.
stray_nginx_pids() {
  local d cmd
  for d in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null || true)
    case "$cmd" in *"nginx"*" -c $NGINX_CONF "*) echo "${d#/proc/}" ;; esac
  done
}

start_nginx() {
  local pid
  pid=$(nginx_pid)
  if [ -n "$pid" ]; then
    say "nginx-rtmp already running (pid $pid) on 127.0.0.1:$RTMP_PORT"
    return 0
  fi
  if port_open "$RTMP_PORT"; then
    die "127.0.0.1:$RTMP_PORT is already taken by something else; set OBS_E2E_RTMP_PORT"
  fi
  local module=/usr/lib/nginx/modules/ngx_rtmp_module.so
  [ -f "$module" ] || die "$module missing (libnginx-mod-rtmp)"
  mkdir -p "$NGINX_DIR"
  # No http block: nginx opens no HTTP port, so a system nginx on :80 is not disturbed.
  cat >"$NGINX_CONF" <<EOF
load_module $module;
daemon on;
worker_processes 1;
pid $NGINX_PIDFILE;
error_log $NGINX_LOG info;
events { worker_connections 64; }
rtmp {
    server {
        listen 127.0.0.1:$RTMP_PORT;
        application live { live on; record off; }
    }
}
EOF
  nginx -t -q -p "$NGINX_DIR/" -e "$NGINX_LOG" -c "$NGINX_CONF" || die "nginx config test failed (see $NGINX_LOG)"
  nginx -p "$NGINX_DIR/" -e "$NGINX_LOG" -c "$NGINX_CONF" || die "nginx failed to start (see $NGINX_LOG)"
  local t0 i
  t0=$(now)
  for i in $(seq 1 50); do
    port_open "$RTMP_PORT" && break
    sleep 0.1
  done
  port_open "$RTMP_PORT" || { tail -n 20 "$NGINX_LOG" >&2 || true; die "nginx-rtmp is not listening on $RTMP_PORT"; }
  say "nginx-rtmp listening on rtmp://127.0.0.1:$RTMP_PORT/live (pid $(nginx_pid), $(elapsed "$t0") s)"
}

stop_nginx() {
  local pids pid i
  pids="$(nginx_pid) $(stray_nginx_pids)"
  pids=$(echo "$pids" | tr ' ' '\n' | sort -u | grep -v '^$' || true)
  if [ -z "$pids" ]; then
    say "nginx-rtmp not running"
    rm -f "$NGINX_PIDFILE"
    return 0
  fi
  for pid in $pids; do kill -QUIT "$pid" 2>/dev/null || true; done
  for i in $(seq 1 50); do
    local any=""
    for pid in $pids; do alive "$pid" && any=1; done
    [ -z "$any" ] && break
    sleep 0.1
  done
  for pid in $pids; do
    if alive "$pid"; then
      # the workers are children of the master: kill them too
      pkill -KILL -P "$pid" 2>/dev/null || true
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -f "$NGINX_PIDFILE"
  say "nginx-rtmp stopped"
}

# ---------------------------------------------------------------- OBS

# Processes whose root directory is our chroot: OBS, Xvfb, xvfb-run, whatever they spawned.
# This is exact (the /proc/PID/root link), independent of pid files and process names.
root_pids() {
  local root d r
  root=$(readlink -f "$(known_root)" 2>/dev/null || true)
  [ -n "$root" ] && [ -d "$root" ] || return 0
  for d in /proc/[0-9]*; do
    r=$(readlink "$d/root" 2>/dev/null || true)
    [ "$r" = "$root" ] && echo "${d#/proc/}"
  done
  return 0
}

obs_pgid() {
  local pid
  pid=$(cat "$OBS_PIDFILE" 2>/dev/null || true)
  if [ -n "$pid" ] && pgrep -g "$pid" >/dev/null 2>&1; then echo "$pid"; fi
}

obs_running() { [ -n "$(obs_pgid)" ] || [ -n "$(root_pids)" ]; }

# the obs binary itself (not xvfb-run / Xvfb)
obs_main_pid() {
  local pid
  for pid in $(root_pids); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = obs ] && { echo "$pid"; return 0; }
  done
  return 0
}

mount_root() {
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
}

umount_root() {
  local root m
  root=$(known_root)
  for m in "$root/dev" "$root/proc"; do
    if mountpoint -q "$m" 2>/dev/null; then
      umount "$m" 2>/dev/null || umount -l "$m" || warn "could not unmount $m"
    fi
  done
}

# Remove X lock files and sockets in the root left by an Xvfb that died by SIGKILL (xvfb-run -a
# would otherwise pick :100, :101, ... forever), and xvfb-run's temp dirs. Only when none of our
# processes runs, and only locks whose pid is not a live process.
clean_stale_x() {
  local f pid n
  for f in "$ROOT"/tmp/.X*-lock; do
    [ -e "$f" ] || continue
    pid=$(tr -dc '0-9' <"$f" 2>/dev/null || true)
    if ! alive "$pid"; then
      n=${f##*/.X}; n=${n%-lock}
      rm -f "$f" "$ROOT/tmp/.X11-unix/X$n"
      say "removed stale Xvfb lock for display :$n"
    fi
  done
  rm -rf "$ROOT"/tmp/xvfb-run.* 2>/dev/null || true
}

# A display number free both in the root and on the host: Xvfb also binds the abstract socket
# @/tmp/.X11-unix/XN, which lives in the (shared) network namespace, so a host X server on the
# same number would make our Xvfb fail although the root's /tmp has no lock (xvfb-run -a only
# looks at lock files).
free_display() {
  local n
  for n in $(seq 99 199); do
    [ -e "$ROOT/tmp/.X$n-lock" ] && continue
    [ -e "/tmp/.X$n-lock" ] && continue
    grep -q "/tmp/.X11-unix/X$n\$" /proc/net/unix 2>/dev/null && continue
    echo "$n"; return 0
  done
  die "no free X display number in 99..199"
}

# A second scene collection, "hub e2e groups", in OBS's own file format: a scene holding a group
# (source id "group") that holds a colour source. obs-websocket 5 has no request that makes a
# group, so tests/real_obs/hub/sources.rs switches to this collection to see a real one, and back.
# OBS stores groups in their own "groups" array, loaded with the sources; each item names its
# source. Fields left out take OBS's defaults (OBS 30.2 and 32.2 both load it). Not the current
# collection: OBS starts on a fresh "Untitled", which the other tests expect.
write_group_collection() { # scenes dir
  mkdir -p "$1"
  cat >"$1/hub_e2e_groups.json" <<'EOF'
{
  "name": "hub e2e groups",
  "current_scene": "hub e2e group scene",
  "current_program_scene": "hub e2e group scene",
  "scene_order": [{ "name": "hub e2e group scene" }],
  "sources": [
    {
      "id": "color_source_v3",
      "versioned_id": "color_source_v3",
      "name": "hub e2e group colour",
      "settings": { "color": 4278255360, "width": 320, "height": 180 }
    },
    {
      "id": "scene",
      "versioned_id": "scene",
      "name": "hub e2e group scene",
      "settings": {
        "id_counter": 1,
        "custom_size": false,
        "items": [
          { "name": "hub e2e group", "id": 1, "visible": true, "locked": false, "align": 5,
            "pos": { "x": 0.0, "y": 0.0 }, "scale": { "x": 1.0, "y": 1.0 } }
        ]
      }
    }
  ],
  "groups": [
    {
      "id": "group",
      "versioned_id": "group",
      "name": "hub e2e group",
      "settings": {
        "id_counter": 1,
        "custom_size": true,
        "cx": 320,
        "cy": 180,
        "items": [
          { "name": "hub e2e group colour", "id": 1, "visible": true, "locked": false, "align": 5,
            "pos": { "x": 0.0, "y": 0.0 }, "scale": { "x": 1.0, "y": 1.0 } }
        ]
      }
    }
  ]
}
EOF
}

write_obs_config() {
  local home="$ROOT$OBS_HOME_IN_ROOT" cfg
  cfg="$home/.config/obs-studio"
  mkdir -p "$cfg"
  # Fresh profile and scene collection every start: OBS then creates the single default scene
  # "Scene". Crash sentinels and the crash-report dir go too (no "run in safe mode?" dialog).
  rm -rf "$cfg/basic" "$cfg/.sentinel" "$cfg/crashes"
  rm -f "$home"/*.mkv "$home"/*.mp4 "$home"/*.flv "$home"/*.mov
  # Profile: light output for a 2-core machine (640x360 @ 30 fps, x264 veryfast), recordings in
  # HOME. Written before start so OBS never runs its first-start auto-configuration. The replay
  # buffer (RecRB) must be enabled here: enabling it while OBS runs did not make it available on
  # OBS 32.2. Manual file splitting is enabled so the hub's split route can be exercised, and the
  # recording has its own encoder (RecQuality=Small): OBS cannot pause one that shares the
  # stream's ("Same as stream"), and answers PauseRecord with success doing nothing.
  mkdir -p "$cfg/basic/profiles/Untitled"
  cat >"$cfg/basic/profiles/Untitled/basic.ini" <<EOF
[General]
Name=Untitled

[Video]
BaseCX=1280
BaseCY=720
OutputCX=640
OutputCY=360
FPSType=0
FPSCommon=30

[Output]
Mode=Simple

[SimpleOutput]
FilePath=$OBS_HOME_IN_ROOT
RecFormat2=mkv
VBitrate=1000
ABitrate=128
StreamEncoder=x264
RecEncoder=x264
RecQuality=Small
Preset=ultrafast
RecRB=true
RecRBTime=20
RecRBSize=512
RecSplitFile=true
RecSplitFileType=Manual

[AdvOut]
RecSplitFile=true
RecSplitFileType=Manual
EOF
  write_group_collection "$cfg/basic/scenes"
  # LastVersion: the root's own OBS version, as OBS encodes it (major << 24 | minor << 16 | patch).
  # An older one makes OBS treat the start as an upgrade: OBS 32.2 given 30.2.3 stayed in
  # start-up (OBSApp::AppInit) and never opened its WebSocket port.
  local ini last_version
  last_version=$(root_obs_version "$ROOT" | sed 's/^[0-9]*://' | awk -F'[.+~-]' '{ printf "%d", $1 * 16777216 + $2 * 65536 + $3 }')
  ini=$(
    cat <<EOF
[General]
FirstRun=true
LastVersion=$last_version
EnableAutoUpdates=false
ConfirmOnExit=false
WarnBeforeStartingStream=false
WarnBeforeStoppingStream=false
WarnBeforeStoppingRecord=false

[Basics]
Profile=Untitled
ProfileDir=Untitled
SceneCollection=Untitled
SceneCollectionFile=Untitled

[OBSWebSocket]
FirstLoad=false
ServerEnabled=true
ServerPort=$PORT
AlertsEnabled=false
AuthRequired=true
ServerPassword=$PASSWORD
EOF
  )
  printf '%s\n' "$ini" >"$cfg/user.ini"
  printf '%s\n' "$ini" >"$cfg/global.ini"
  # obs-websocket 5.5 (OBS 30.2) really reads plugin_config/obs-websocket/config.json; it migrates
  # the [OBSWebSocket] section of global.ini into it at load and empties that section. Write the
  # JSON too so the settings do not depend on that migration.
  local pw_json
  pw_json=$(printf '%s' "$PASSWORD" | sed 's/\\/\\\\/g; s/"/\\"/g')
  mkdir -p "$cfg/plugin_config/obs-websocket"
  cat >"$cfg/plugin_config/obs-websocket/config.json" <<EOF
{
  "alerts_enabled": false,
  "auth_required": true,
  "first_load": false,
  "server_enabled": true,
  "server_password": "$pw_json",
  "server_port": $PORT
}
EOF
  if [ ! -s "$ROOT/etc/machine-id" ]; then
    tr -d '-' </proc/sys/kernel/random/uuid >"$ROOT/etc/machine-id"
  fi
  # OBS's rtmp-services plugin fetches a service list from obsproject.com at start. Tests send
  # traffic to loopback only: the root resolves those names to 127.0.0.1 from its own hosts
  # file (no DNS query leaves), where nothing listens on 443, so the update fails at once.
  if ! grep -q 'obs-hub: loopback only' "$ROOT/etc/hosts" 2>/dev/null; then
    printf '127.0.0.1\tobsproject.com cdn-fastly.obsproject.com # obs-hub: loopback only\n' \
      >>"$ROOT/etc/hosts"
  fi
}

start_obs() {
  local pgid
  [ -n "${ROOT:-}" ] || ensure_root
  pgid=$(obs_pgid)
  if [ -n "$pgid" ]; then
    say "OBS already running (process group $pgid)"
    port_open "$PORT" && say "WebSocket port $PORT open" || warn "but port $PORT is not open"
    return 0
  fi
  if [ -n "$(root_pids)" ]; then
    warn "found processes in $ROOT without a pid file (state dir deleted?): stopping them"
    kill_root_pids KILL
  fi
  if port_open "$PORT"; then
    die "port $PORT is already taken by something else (another OBS?); set OBS_E2E_PORT"
  fi
  mkdir -p "$STATE"
  clean_stale_x
  write_obs_config
  mount_root
  local display t0
  display=$(free_display)
  : >"$OBS_LOG"
  t0=$(now)
  # setsid: OBS, xvfb-run and Xvfb get their own process group (this background child is not a
  # group leader, so setsid does not fork and $! is the group id).
  setsid chroot "$ROOT" /usr/bin/env -i \
    HOME="$OBS_HOME_IN_ROOT" USER=root LOGNAME=root \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 XDG_RUNTIME_DIR=/tmp/xdg-runtime QT_QPA_PLATFORM=xcb \
    /bin/sh -c 'mkdir -p -m 700 "$XDG_RUNTIME_DIR"; exec "$@"' sh \
    xvfb-run -n "$display" -s "-screen 0 1280x720x24 -nolisten tcp" \
    obs --minimize-to-tray --disable-shutdown-check --disable-missing-files-check --multi \
    </dev/null >"$OBS_LOG" 2>&1 &
  local pid=$!
  echo "$pid" >"$OBS_PIDFILE"
  say "OBS $(root_obs_version "$ROOT") ($SUITE) starting (process group $pid, display :$display, log $OBS_LOG)"
  local deadline
  deadline=$(awk -v a="$t0" -v t="$START_TIMEOUT" 'BEGIN { printf "%d", a + t }')
  while :; do
    if port_open "$PORT"; then
      say "OBS WebSocket port $PORT open after $(elapsed "$t0") s"
      return 0
    fi
    if ! pgrep -g "$pid" >/dev/null 2>&1; then
      warn "OBS exited before opening port $PORT ($(elapsed "$t0") s); last lines of $OBS_LOG:"
      tail -n 40 "$OBS_LOG" >&2 || true
      rm -f "$OBS_PIDFILE"
      exit 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      warn "OBS did not open port $PORT within ${START_TIMEOUT} s; last lines of $OBS_LOG:"
      tail -n 40 "$OBS_LOG" >&2 || true
      stop_obs >&2 || true
      exit 1
    fi
    sleep 0.2
  done
}

kill_root_pids() { # signal
  local pid
  for pid in $(root_pids); do kill "-$1" "$pid" 2>/dev/null || true; done
}

wait_gone() { # seconds -> 0 if nothing of ours runs any more
  local i n=$(($1 * 10))
  for i in $(seq 1 "$n"); do
    obs_running || return 0
    sleep 0.1
  done
  ! obs_running
}

stop_obs() {
  local pgid main t0
  pgid=$(obs_pgid)
  if [ -z "$pgid" ] && [ -z "$(root_pids)" ]; then
    say "OBS not running"
    rm -f "$OBS_PIDFILE"
    return 0
  fi
  t0=$(now)
  # Graceful first: SIGINT to obs itself. OBS 30.2 on Linux handles SIGINT like closing the main
  # window (obs-websocket sends close 1001 to clients, the profile is saved) but has no handler
  # for SIGTERM: SIGTERM kills it on the spot, like kill-obs minus Xvfb. xvfb-run then stops
  # Xvfb and exits.
  # Only once OBS is up (WebSocket port open): during startup it ignores SIGINT.
  main=$(obs_main_pid)
  if [ -n "$main" ] && port_open "$PORT"; then
    kill -INT "$main" 2>/dev/null || true
    wait_gone 10 || warn "OBS still running 10 s after SIGINT"
  fi
  if obs_running; then
    [ -n "$pgid" ] && kill -TERM -- "-$pgid" 2>/dev/null || true
    kill_root_pids TERM
    if ! wait_gone 5; then
      warn "still running: SIGKILL"
      [ -n "$pgid" ] && kill -KILL -- "-$pgid" 2>/dev/null || true
      kill_root_pids KILL
      wait_gone 5 || warn "processes left in the root: $(root_pids | tr '\n' ' ')"
    fi
  fi
  rm -f "$OBS_PIDFILE"
  [ -n "${ROOT:-}" ] || ROOT=$(known_root)
  clean_stale_x
  say "OBS stopped ($(elapsed "$t0") s)"
}

kill_obs() {
  local pgid
  pgid=$(obs_pgid)
  if [ -z "$pgid" ] && [ -z "$(root_pids)" ]; then
    say "OBS not running"
    return 0
  fi
  # Everything at once, like a crash or power loss: no close frame, stale X lock left behind
  # (start-obs cleans it).
  [ -n "$pgid" ] && kill -KILL -- "-$pgid" 2>/dev/null || true
  kill_root_pids KILL
  wait_gone 5 || warn "processes left in the root: $(root_pids | tr '\n' ' ')"
  rm -f "$OBS_PIDFILE"
  say "OBS killed (SIGKILL)"
}

# Like a frozen OBS or a laptop asleep: the process stops, its sockets stay open and silent.
freeze_obs() {
  local pid
  pid=$(obs_main_pid)
  [ -n "$pid" ] || die "OBS is not running"
  kill -STOP "$pid"
  say "OBS frozen (SIGSTOP pid $pid)"
}

thaw_obs() {
  local pid
  pid=$(obs_main_pid)
  [ -n "$pid" ] || die "OBS is not running"
  kill -CONT "$pid"
  say "OBS thawed (SIGCONT pid $pid)"
}

status() {
  local rc=0 pgid pid
  pid=$(nginx_pid)
  [ -n "$pid" ] || pid=$(stray_nginx_pids | tr '\n' ' ')
  if [ -n "$pid" ]; then say "nginx-rtmp: running (pid $pid), 127.0.0.1:$RTMP_PORT"; else say "nginx-rtmp: not running"; rc=1; fi
  pgid=$(obs_pgid)
  if [ -n "$pgid" ]; then
    say "OBS: running (process group $pgid; in root: $(root_pids | tr '\n' ' '))"
  elif [ -n "$(root_pids)" ]; then
    say "OBS: processes in the root without pid file: $(root_pids | tr '\n' ' ')"
  else
    say "OBS: not running"; rc=1
  fi
  if port_open "$PORT"; then say "WebSocket port $PORT: open"; else say "WebSocket port $PORT: closed"; rc=1; fi
  local root
  root=$(known_root)
  say "root: $root (OBS $(root_obs_version "$root"))"
  say "mounts: $(mount | grep -F "$root" | awk '{print $3}' | tr '\n' ' ')"
  say "state: $STATE"
  return $rc
}

cmd=${1:-}
SUITE=$(wanted_suite "$cmd")
case "$SUITE" in
trixie | sid) ;;
*) die "OBS_E2E_SUITE must be trixie or sid, not '$SUITE'" ;;
esac
case "$cmd" in
start)
  t_all=$(now)
  ensure_root
  ensure_host_packages
  start_nginx
  start_obs
  say "ready in $(elapsed "$t_all") s: ws://127.0.0.1:$PORT (password in OBS_E2E_PASSWORD)"
  ;;
start-obs) start_obs ;;
stop-obs) stop_obs ;;
kill-obs) kill_obs ;;
freeze-obs) freeze_obs ;;
thaw-obs) thaw_obs ;;
restart-obs)
  stop_obs
  start_obs
  ;;
stop-nginx) stop_nginx ;;
start-nginx) start_nginx ;;
stop)
  stop_obs
  stop_nginx
  umount_root
  left=$(mount | grep -F "$(known_root)" || true)
  [ -z "$left" ] || warn "still mounted: $left"
  # the next start-obs without OBS_E2E_SUITE starts trixie again, not what ran last
  rm -f "$STATE/suite"
  say "stopped"
  ;;
status) status ;;
env)
  # what runs (or ran last), whatever OBS_E2E_SUITE says now
  [ -s "$STATE/suite" ] && SUITE=$(cat "$STATE/suite")
  printf 'export OBS_E2E_HOST=127.0.0.1 OBS_E2E_PORT=%q OBS_E2E_PASSWORD=%q OBS_E2E_RTMP_PORT=%q OBS_E2E_CTL=%q OBS_E2E_ROOT=%q OBS_E2E_SUITE=%q OBS_E2E_OBS_VERSION=%q\n' \
    "$PORT" "$PASSWORD" "$RTMP_PORT" "$HERE/real-obs.sh" "$(known_root)" "$SUITE" "$(root_obs_version "$(known_root)")"
  ;;
*)
  sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
  [ -z "$cmd" ] || [ "$cmd" = help ] || [ "$cmd" = -h ] || exit 2
  ;;
esac
