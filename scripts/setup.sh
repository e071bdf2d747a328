#!/usr/bin/env bash
# Set up commgrid on a fresh Debian machine: system packages, then a virtual
# environment at .venv with commgrid installed (editable) and its extras.
#
#   scripts/setup.sh            # runtime: PostGIS, CJK fonts, Node (for MapLibre) + the package
#   scripts/setup.sh test       # also test tools, GDAL's ogrinfo and headless Chromium
#   scripts/setup.sh bench      # also the benchmark tools (wrk, tipg, spopt, GerryChain)
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

apt_packages=(postgresql-15-postgis-3 postgresql-15 fonts-noto-cjk)
# posters and contact cards: WeasyPrint lays them out with Pango, fonts found by fontconfig
apt_packages+=(libpango-1.0-0 libpangoft2-1.0-0 fontconfig)
command -v npm >/dev/null 2>&1 || apt_packages+=(nodejs npm)
case "$mode" in
  test) apt_packages+=(chromium gdal-bin poppler-utils) ;;
  bench) apt_packages+=(chromium gdal-bin wrk poppler-utils) ;;
esac
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

# MapLibre GL JS for the web map, from npm at the version package-lock.json pins; the
# app serves it itself, so browsers need no CDN
vendor=api/static/vendor
if [ ! -f "$vendor/node_modules/maplibre-gl/dist/maplibre-gl.mjs" ] \
   || [ "$vendor/package-lock.json" -nt "$vendor/node_modules/.package-lock.json" ]; then
  say "installing MapLibre GL JS from npm"
  (cd "$vendor" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

case "$mode" in
  run) extras="" ;;
  test) extras="[test]" ;;
  bench) extras="[test,bench]" ;;
  *) echo "unknown mode $mode: use run, test or bench" >&2; exit 2 ;;
esac
stamp=".venv/.commgrid-installed"
hash="$(sha256sum pyproject.toml | cut -c1-16)"
have="$(cat "$stamp" 2>/dev/null || true)"
# a bench install includes the tests', a test install everything the runtime needs
case "$have" in
  "$hash bench") exit 0 ;;
  "$hash test") [ "$mode" != "bench" ] && exit 0 ;;
  "$hash run") [ "$mode" = "run" ] && exit 0 ;;
esac
say "installing commgrid${extras} into .venv (the first time takes a few minutes)"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".${extras}"
echo "$hash $mode" > "$stamp"
