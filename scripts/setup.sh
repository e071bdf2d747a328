#!/usr/bin/env bash
# Set up commgrid on a fresh Debian machine: system packages, then a virtual
# environment at .venv with commgrid installed (editable) and its extras.
#
#   scripts/setup.sh            # runtime: PostGIS + the package
#   scripts/setup.sh test       # also test tools and headless Chromium
#
# Safe to run again: it installs only what is missing, and reinstalls the Python
# packages only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); fi
fi

apt_packages=(postgresql-15-postgis-3 postgresql-15)
if [ "$mode" = "test" ]; then
  apt_packages+=(chromium)
fi
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python_bin="${PYTHON:-python3}"
if ! "$python_bin" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "commgrid needs Python 3.11 or newer; $("$python_bin" --version 2>&1) found. Set PYTHON=/path/to/python3.11." >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$python_bin" -m venv .venv
fi

extras="[test]"
[ "$mode" = "run" ] && extras=""
stamp=".venv/.commgrid-installed"
hash="$(sha256sum pyproject.toml | cut -c1-16)"
have="$(cat "$stamp" 2>/dev/null || true)"
# a test install includes everything the runtime needs
if [ "$have" = "$hash test" ] || [ "$have" = "$hash $mode" ]; then
  exit 0
fi
say "installing commgrid${extras} into .venv (the first time takes a few minutes)"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".${extras}"
echo "$hash $mode" > "$stamp"
