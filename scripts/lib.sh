# shellcheck shell=bash
# Shared by every script in scripts/: where things live and how a command is run
# inside the project's Python 3.14 environment. Sourced, never executed.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
# The cache lives outside the clone so that a fresh clone on the same machine (CI)
# reuses the root file system and pip's cache. Override with PLEX_BRIDGE_CACHE.
CACHE_DIR="${PLEX_BRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/plex-bridge}"
ROOTFS="$CACHE_DIR/rootfs-testing"
VENV="$REPO_ROOT/.venv"
MIN_PYTHON="3.14.2"

die() {
  echo "error: $*" >&2
  exit 1
}

# A python3.14 on PATH that is new enough, or nothing.
host_python() {
  local py
  py="$(command -v python3.14 2>/dev/null)" || return 1
  "$py" -c "import sys; sys.exit(0 if sys.version_info >= (3, 14, 2) else 1)" 2>/dev/null || return 1
  echo "$py"
}

# Which way this checkout runs Python: "host" (a python3.14 on PATH) or "rootfs"
# (a Debian testing root file system entered with chroot). Remembered in .venv so
# that every script agrees with the one that built the environment.
env_mode() {
  if [ -f "$VENV/.mode" ]; then
    cat "$VENV/.mode"
  elif host_python >/dev/null; then
    echo host
  else
    echo rootfs
  fi
}

# Run a command in the project's environment, with .venv/bin first on PATH and the
# working directory kept. In rootfs mode the command runs under chroot in a private
# mount namespace; the repository (and ../shared beside it, and the cache) are
# bind-mounted at the same absolute paths, so paths read the same inside and out.
in_env() {
  local venv_path="$VENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  if [ "$(env_mode)" = host ]; then
    PATH="$VENV/bin:$PATH" VIRTUAL_ENV="$VENV" "$@"
    return
  fi
  local cwd="$PWD"
  case "$cwd" in "$REPO_ROOT" | "$REPO_ROOT"/*) ;; *) cwd="$REPO_ROOT" ;; esac
  local shared
  shared="$(cd "$REPO_ROOT/.." && pwd -P)/shared"
  # Variables that reach the command: a clean environment plus the project's own.
  local -a pass=(HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8 "TERM=${TERM:-dumb}"
    "PATH=$venv_path" "VIRTUAL_ENV=$VENV" "PIP_CACHE_DIR=$CACHE_DIR/pip"
    # The root file system's CA bundle is the host's (scripts/setup copies it), so
    # tools with their own trust store (uv, which Home Assistant installs
    # integration requirements with) trust what the host trusts.
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt)
  local name
  while IFS= read -r name; do
    pass+=("$name=${!name}")
  done < <(compgen -e | grep -E '^(CI|COLUMNS|PYTHONPATH|PYTEST_ADDOPTS|PLEX_BRIDGE_.*)$' || true)
  mkdir -p "$CACHE_DIR/pip"
  # shellcheck disable=SC2016  # expanded by the inner shell
  local inner='
    set -e
    rootfs=$1 repo=$2 shared=$3 cache=$4 cwd=$5 nenv=$6
    shift 6
    # /tmp first: a repository or cache under /tmp is bind-mounted on top of it.
    mount -t tmpfs tmpfs "$rootfs/tmp"
    mkdir -p "$rootfs$repo" "$rootfs$cache/pip"
    mount --bind "$repo" "$rootfs$repo"
    mount --bind "$cache/pip" "$rootfs$cache/pip"
    if [ -d "$shared" ]; then
      mkdir -p "$rootfs$shared"
      mount --bind "$shared" "$rootfs$shared"
    fi
    mount -t proc proc "$rootfs/proc"
    mount --rbind /dev "$rootfs/dev"
    mount --rbind /sys "$rootfs/sys"
    cp /etc/resolv.conf "$rootfs/etc/resolv.conf" 2>/dev/null || true
    envs=("${@:1:$nenv}")
    shift "$nenv"
    exec chroot "$rootfs" /usr/bin/env -i "${envs[@]}" /bin/bash -c '"'"'cd "$0" && exec "$@"'"'"' "$cwd" "$@"
  '
  unshare -m --propagation private -- /bin/bash -c "$inner" inner \
    "$ROOTFS" "$REPO_ROOT" "$shared" "$CACHE_DIR" "$cwd" "${#pass[@]}" "${pass[@]}" "$@"
}

# Build the environment first if anything is missing or stale (quick when it is not).
ensure_env() {
  "$REPO_ROOT/scripts/setup" --quiet
}
