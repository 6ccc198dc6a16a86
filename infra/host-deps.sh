#!/usr/bin/env bash
# host-deps.sh [debootstrap|up|all] — installs what the host needs, and only what is missing:
#   debootstrap  debootstrap alone (the offline image path starts it as soon as it can)
#   up           what `make up` and the lab's commands use: debootstrap, dig, and the Python libraries
#                the lab imports (dnspython, redis-py, aiohttp) for /usr/bin/python3
#   all          (default) also what `make test` and `make bench` use: dnsperf, redis-tools (the
#                redis-server binary the unit tests run), pytest and pytest-asyncio, and a real browser
#                for the console's tests (chromium, chromium-driver, python3-selenium)
# Debian installs the libraries for /usr/bin/python3 (a pyenv or venv python3 on PATH lacks them).
# On a fresh machine `make up` installs only `up`'s list, so the cold start waits for less.
set -euo pipefail
want=${1:-all}
case "$want" in debootstrap|up|all) ;; *) echo "deps: usage: host-deps.sh [debootstrap|up|all]" >&2; exit 2;; esac

need=()
command -v docker >/dev/null || { echo "deps: docker is required (Docker Engine 20.10+)" >&2; exit 1; }
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ "$want" != debootstrap ]; then
  if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
    need+=(docker-compose)
  fi
  command -v dig >/dev/null || need+=(dnsutils)
  modules="aiohttp:python3-aiohttp redis:python3-redis dns:python3-dnspython boto3:python3-boto3"
  if [ "$want" = all ]; then
    command -v dnsperf >/dev/null || need+=(dnsperf)
    # redis-tools: redis-cli, and redis-check-rdb, the Redis binary the unit tests run as a server.
    command -v redis-check-rdb >/dev/null || command -v redis-server >/dev/null || need+=(redis-tools)
    # spin: `make model` and the trace checks model-check the protocol; its verifiers are C, built by gcc.
    command -v spin >/dev/null || need+=(spin); command -v gcc >/dev/null || need+=(gcc)
    # The console's integration tests drive a real headless browser: Debian's Chromium, its driver and
    # Selenium. Installed here, so a machine without them fails no test by skipping it.
    command -v chromium >/dev/null || need+=(chromium); command -v chromedriver >/dev/null || need+=(chromium-driver)
    modules="$modules pytest:python3-pytest pytest_asyncio:python3-pytest-asyncio selenium:python3-selenium"
    # make lint: mypy and flake8 (ruff, which the style guide names, is not packaged in bookworm).
    command -v mypy >/dev/null || need+=(mypy); command -v flake8 >/dev/null || need+=(flake8)
    # typeshed's stubs for the libraries (redis-py 4.3 ships none): mypy recommends it; we install without recommends.
    [ -d /usr/lib/python3/dist-packages/redis-stubs ] || need+=(python3-typeshed)
  fi
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
# Two of these may run at once (the offline image path installs debootstrap, then the rest while
# debootstrap runs): apt waits for the other's lock, within a bound, instead of failing.
apt_opts=(-o DPkg::Lock::Timeout=300)
# Package lists younger than 10 minutes are fresh enough: the second install does not fetch them again.
lists_age_s=$(( $(date +%s) - $(stat -c %Y /var/lib/apt/lists 2>/dev/null || echo 0) ))
if [ "$lists_age_s" -gt 600 ] || ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then
  timeout 600 $sudo apt-get "${apt_opts[@]}" update -qq
fi
DEBIAN_FRONTEND=noninteractive timeout 900 $sudo apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${need[@]}" >/dev/null
