#!/usr/bin/env bash
# Proves the Dockerfile builds and the image runs, without a Docker engine or the image registry.
#
# 1. debootstrap a minimal Debian bookworm root with python3, python3-venv and python3-pip
#    (bookworm's Python is 3.11), give it the paths of the official image (/usr/local/bin/python,
#    no EXTERNALLY-MANAGED marker), and import it with buildah under the Dockerfile's base name,
#    docker.io/library/python:3.11-slim — a stand-in for the official image;
# 2. build the real Dockerfile with `buildah bud --storage-driver vfs --isolation chroot`
#    (pip reaches the package index; nothing else is pulled);
# 3. smoke-test the image with `buildah run --isolation chroot`: its user is not root, its
#    HEALTHCHECK, STOPSIGNAL and VOLUME are set, `vigil check` accepts the bundled feeds.yaml,
#    `vigil once` polls a feed served from the host's loopback and prints the alert, `vigil health`
#    says "not running" without a service, then `vigil run` with the HTTP listener becomes
#    healthy, answers /healthz and /metrics, and exits 0 within 10 s of SIGTERM.
#
# Needs root (buildah's vfs storage and chroot isolation), buildah and debootstrap; `--install`
# installs the two Debian packages with apt-get first. Everything lives in a private buildah
# store under a temporary directory that is removed at the end (VIGIL_CT_KEEP=1 keeps it). The
# bootstrapped root is cached as a tarball (VIGIL_CT_CACHE, default ~/.cache/vigil-container)
# so a second run skips debootstrap; VIGIL_CT_MIRROR overrides the Debian mirror, which is
# otherwise read from this machine's apt sources.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BASE_IMAGE=docker.io/library/python:3.11-slim
IMAGE=localhost/vigil:smoke
SUITE=bookworm
CACHE=${VIGIL_CT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil-container}
ROOTFS_TAR=$CACHE/rootfs-$SUITE-python3-v1.tar
START=$SECONDS

say() { printf '==> [%4ss] %s\n' "$((SECONDS - START))" "$*"; }
die() { printf 'build_and_smoke: %s\n' "$*" >&2; exit 1; }

if [ "${1:-}" = "--install" ]; then
  say "installing buildah and debootstrap"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah debootstrap >/dev/null; then
    apt-get update -qq  # a fresh machine may hold no or stale package lists
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah debootstrap >/dev/null
  fi
fi
[ "$(id -u)" = 0 ] || die "needs root (buildah vfs storage and chroot isolation)"
for tool in buildah debootstrap python3; do
  command -v "$tool" >/dev/null || die "$tool is missing: apt-get install -y buildah debootstrap (or run with --install)"
done

debian_mirror() {
  if [ -n "${VIGIL_CT_MIRROR:-}" ]; then echo "$VIGIL_CT_MIRROR"; return; fi
  local uri
  # deb822 sources first (Debian 12 default), then one-line sources.list entries.
  uri=$(awk '/^URIs:/ {u=$2} /^Suites:/ && / '"$SUITE"'( |$)/ && u {print u; exit}' \
        /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  if [ -z "$uri" ]; then
    uri=$(awk '$1 == "deb" && $3 == "'"$SUITE"'" {print $2; exit}' \
          /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

WORK=$(mktemp -d /tmp/vigil-container.XXXXXX)
B=(buildah --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
CTR=""
FEED_PID=""

cleanup() {
  local status=$?
  set +e  # every step below runs, whatever the one before it returned
  [ -n "$FEED_PID" ] && kill "$FEED_PID" 2>/dev/null && wait "$FEED_PID" 2>/dev/null
  [ -n "$CTR" ] && "${B[@]}" rm "$CTR" >/dev/null 2>&1
  if [ "${VIGIL_CT_KEEP:-0}" = 1 ]; then
    echo "kept $WORK (buildah ${B[*]:1})"
  elif grep -q " $WORK/" /proc/self/mounts; then
    # Never rm -rf through a mount that is still attached (it could be a host directory).
    echo "build_and_smoke: mounts remain under $WORK; not removing it" >&2
  else
    rm -rf "$WORK"
  fi
  printf 'build_and_smoke: %s after %ss\n' "$([ $status = 0 ] && echo PASSED || echo FAILED)" \
    "$((SECONDS - START))"
}
trap cleanup EXIT

# ------------------------------------------------------------------ 1. the stand-in base image
if [ ! -s "$ROOTFS_TAR" ]; then
  mirror=$(debian_mirror)
  say "debootstrap $SUITE from $mirror"
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    "$SUITE" "$WORK/rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
  # The official image has python, python3 and pip in /usr/local/bin and no PEP 668 marker.
  for name in python python3; do ln -sf /usr/bin/python3 "$WORK/rootfs/usr/local/bin/$name"; done
  ln -sf /usr/bin/pip3 "$WORK/rootfs/usr/local/bin/pip"
  rm -f "$WORK"/rootfs/usr/lib/python3*/EXTERNALLY-MANAGED
  rm -rf "$WORK"/rootfs/var/lib/apt/lists/* "$WORK"/rootfs/var/cache/apt/*.bin
  mkdir -p "$CACHE"
  tar -C "$WORK/rootfs" --numeric-owner -cf "$ROOTFS_TAR.part" .
  mv "$ROOTFS_TAR.part" "$ROOTFS_TAR"
  rm -rf "$WORK/rootfs"
else
  say "reusing $ROOTFS_TAR"
fi
say "importing the stand-in as $BASE_IMAGE"
base=$("${B[@]}" from scratch)
"${B[@]}" add --quiet "$base" "$ROOTFS_TAR" / >/dev/null
trust=()
if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
  # The stand-in trusts what this machine trusts (a TLS-inspecting proxy's CA, say), so pip in
  # the build reaches the package index the way the host's pip does. The Dockerfile is untouched.
  "${B[@]}" copy --quiet "$base" /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ >/dev/null
  trust=(--env PIP_CERT=/etc/ssl/certs/ca-certificates.crt
         --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt)
fi
"${B[@]}" config \
  --env PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env LANG=C.UTF-8 "${trust[@]}" --cmd python3 "$base"
"${B[@]}" commit --quiet --format docker "$base" "$BASE_IMAGE" >/dev/null
"${B[@]}" rm "$base" >/dev/null

# ------------------------------------------------------------------ 2. the real Dockerfile
say "building $ROOT/Dockerfile"
# --format docker keeps HEALTHCHECK (the OCI format has no field for it), as `docker build` does.
"${B[@]}" bud --isolation chroot --pull=never --format docker --layers=false \
  -f "$ROOT/Dockerfile" -t "$IMAGE" "$ROOT" >"$WORK/build.log" 2>&1 \
  || { tail -40 "$WORK/build.log" >&2; die "buildah bud failed"; }
grep -E "Successfully|^STEP" "$WORK/build.log" | tail -3

# ------------------------------------------------------------------ 3. smoke test
say "checking the image configuration"
inspect() { "${B[@]}" inspect --type image --format "$1" "$IMAGE"; }
[ "$(inspect '{{.Docker.Config.User}}')" = "10001:10001" ] || die "image user is not 10001"
inspect '{{.Docker.Config.Healthcheck.Test}}' | grep -q "vigil health" || die "no HEALTHCHECK"
[ "$(inspect '{{.Docker.Config.StopSignal}}')" = "SIGTERM" ] || die "STOPSIGNAL is not SIGTERM"
inspect '{{.Docker.Config.Volumes}}' | grep -q "/state" || die "/state is not a VOLUME"
inspect '{{.Docker.Config.Env}}' | grep -q "VIGIL_STATE_DIR=/state" || die "VIGIL_STATE_DIR unset"
inspect '{{.Docker.Config.Env}}' | grep -q "VIGIL_CONFIG=/config/feeds.yaml" \
  || die "VIGIL_CONFIG unset"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
FEED_PORT=$(free_port)
HTTP_PORT=$(free_port)
mkdir -p "$WORK/www"
cat >"$WORK/www/feed.xml" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Smoke ministry</title><link>http://127.0.0.1/</link>
<description>Statements</description>
<item><title>Joint statement on the Convention Against Torture case</title>
<link>http://127.0.0.1/statements/cat-1</link><guid>cat-1</guid>
<description>Canada and the Netherlands on Syria and the Convention Against Torture.</description>
<pubDate>Mon, 06 Jan 2025 10:00:00 GMT</pubDate></item>
</channel></rss>
EOF
cat >"$WORK/smoke.yaml" <<EOF
settings:
  interval: 1m
  timeout: 10s
  first_run: all
  allow_private_networks: true
topics:
  cat:
    name: Convention Against Torture
    keywords: [Convention Against Torture, اتفاقية مناهضة التعذيب]
feeds:
  - id: smoke
    name: Smoke ministry
    url: http://127.0.0.1:$FEED_PORT/feed.xml
EOF
# The service run: healthy within 60 s, /healthz and /metrics answer, SIGTERM ends it with 0
# inside Docker's 10 s grace.
cat >"$WORK/service.sh" <<EOF
#!/bin/sh
set -u
export VIGIL_CONFIG=/tmp/smoke.yaml VIGIL_STATE_DIR=/tmp/service-state
export VIGIL_HTTP_HOST=127.0.0.1 VIGIL_HTTP_PORT=$HTTP_PORT
vigil run >/tmp/service.out 2>/tmp/service.err &
pid=\$!
healthy=no
for _ in \$(seq 1 120); do
  if vigil health >/dev/null 2>&1; then healthy=yes; break; fi
  sleep 0.5
done
vigil health || true
python - <<'PY'
import sys, time, urllib.request
base = "http://127.0.0.1:$HTTP_PORT"
deadline = time.monotonic() + 60
metrics = ""
while time.monotonic() < deadline:
    metrics = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
    if 'vigil_polls_total{' in metrics and 'outcome="ok"' in metrics:
        break
    time.sleep(0.5)
health = urllib.request.urlopen(base + "/healthz", timeout=10).read().decode().strip()
print("healthz:", health)
print("\n".join(l for l in metrics.splitlines() if l.startswith(("vigil_polls_total", "vigil_matches_total", "vigil_alerts_sent_total"))))
sys.exit(0 if health == "ok" and 'outcome="ok"' in metrics and 'topic="cat"' in metrics else 1)
PY
http=\$?
t0=\$(date +%s)
kill -TERM \$pid
wait \$pid
code=\$?
took=\$((\$(date +%s) - t0))
echo "service: healthy=\$healthy http=\$http exit=\$code after SIGTERM in \${took}s"
[ "\$healthy" = yes ] && [ \$http = 0 ] && [ \$code = 0 ] && [ \$took -lt 10 ] || { cat /tmp/service.err; exit 1; }
EOF

say "serving a test feed on 127.0.0.1:$FEED_PORT"
python3 -m http.server --bind 127.0.0.1 --directory "$WORK/www" "$FEED_PORT" \
  >"$WORK/feed-server.log" 2>&1 &
FEED_PID=$!

CTR=$("${B[@]}" from --pull=never "$IMAGE")
"${B[@]}" copy --chown 10001:10001 "$CTR" "$WORK/smoke.yaml" /tmp/smoke.yaml >/dev/null
"${B[@]}" copy --chown 10001:10001 --chmod 0755 "$CTR" "$WORK/service.sh" /tmp/service.sh >/dev/null
run() { "${B[@]}" run --isolation chroot "$CTR" -- "$@"; }

say "the process user"
uid=$(run id -u)
echo "id -u: $uid"
[ "$uid" != 0 ] || die "the image runs as root"
run sh -c 'test -w /state' || die "/state is not writable by the image user"

say "vigil check (bundled feeds.yaml)"
run vigil check

say "vigil once against the host's feed server"
out=$(run vigil --config /tmp/smoke.yaml --state /tmp/once-state once 2>&1) \
  || { echo "$out"; die "vigil once failed"; }
echo "$out" | tail -4
echo "$out" | grep -q "Joint statement on the Convention Against Torture" \
  || die "vigil once printed no alert"

say "vigil health without a running service"
set +e
out=$(run vigil --state /tmp/once-state health 2>&1)
code=$?
set -e
echo "$out"
[ "$code" = 1 ] && echo "$out" | grep -q "not running" || die "vigil health: exit $code, want 1"

say "vigil run: health, /healthz, /metrics, SIGTERM"
run /tmp/service.sh

say "all smoke checks passed"
