#!/usr/bin/env bash
# Installs what the host needs, and only what is missing: Debian packages for building images
# offline (debootstrap), for users and tests (dig, dnsperf), and the Python libraries the test suite
# imports, which Debian installs for /usr/bin/python3 (a pyenv or venv python3 on PATH lacks them).
set -euo pipefail

need=()
command -v docker >/dev/null || { echo "deps: docker is required (Docker Engine 20.10+)" >&2; exit 1; }
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
  need+=(docker-compose)
fi
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v dig >/dev/null || need+=(dnsutils)
command -v dnsperf >/dev/null || need+=(dnsperf)
# redis-tools: redis-cli, and redis-check-rdb, the Redis binary the event-sink unit tests run as a server.
command -v redis-check-rdb >/dev/null || command -v redis-server >/dev/null || need+=(redis-tools)
modules="aiohttp:python3-aiohttp redis:python3-redis dns:python3-dnspython pytest:python3-pytest pytest_asyncio:python3-pytest-asyncio"
# Found, not imported: importing aiohttp and pytest took a second, and every make target runs this.
# One interpreter names every module that is missing.
if [ -x /usr/bin/python3 ]; then
  for module in $(/usr/bin/python3 -c "import importlib.util, sys
print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m.split(':')[0]) is None))" $modules); do
    need+=("${module#*:}")
  done
else
  need+=(python3)
  for module in $modules; do need+=("${module#*:}"); done
fi

[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "deps: missing ${need[*]} (Debian package names); install their equivalents and run again" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${need[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "deps: installing ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
