#!/usr/bin/env bash
# Builds every image the compose file names, by one of two paths, and only what is missing or stale.
#
#   online : upstream images (debian:bookworm-slim, coredns/coredns, ghcr.io/shopify/toxiproxy, redis),
#            used as they are when present locally (never pulled again), pulled when not
#   offline: no registry — the base from debootstrap + `docker import`, CoreDNS (only the plugins the
#            Corefile uses, infra/coredns-build) and Toxiproxy built static from their Go modules at
#            the same versions and put in FROM-scratch images
#
# Both paths read the same package list (infra/images/base/packages.txt) and the same pinned
# versions (infra/versions.env), and produce the same local tags, so docker-compose.yml never changes.
#
# Independent steps run in parallel (host packages + debootstrap, the CoreDNS build, the Toxiproxy
# build; then the four images that need the base). Each step prints a line when it starts, with how
# long it usually takes, and when it ends, with how long it took, so a newcomer sees what is happening.
#
# IMAGE_PATH=online|offline forces a path. By default: `present` when every image is already built;
# online when the upstream images are present locally or a pull of the Debian image works; else offline.
# DNSRACE_IMAGE_NAMESPACE (default dnsrace) names the output images; the online-path test uses its own.
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=../versions.env
set -a; . "$top/infra/versions.env"; set +a

cache_dir=${DNSRACE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dnsrace}
log_dir="$cache_dir/logs"
go_bin=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
packages_file="$here/base/packages.txt"
packages=$(grep -v '^#' "$packages_file" | grep -v '^[[:space:]]*$' | paste -sd, -)
namespace=${DNSRACE_IMAGE_NAMESPACE:-dnsrace}
# Bounds: no step of a cold build has taken more than half of these on a 2-core machine.
step_timeout_s=${DNSRACE_STEP_TIMEOUT_S:-900}
pull_timeout_s=60

digest() { cat "$@" | sha256sum | cut -c1-12; }
# Each tag (or label) names its inputs, so a change to them rebuilds that image and nothing else.
base_digest=$(digest "$packages_file" "$here/base/Dockerfile" "$top/infra/versions.env")
coredns_source_digest=$(digest "$top/infra/versions.env" "$top"/infra/coredns-build/{main.go,go.mod,go.sum})
# The images' labels also name this script: it decides how they are put together and labelled.
coredns_digest=$(echo "$coredns_source_digest" | digest - "$0")
dynamodb_source_digest=$(digest "$top/infra/versions.env" "$top"/infra/dynamodb-build/{main.go,go.mod,go.sum})
dynamodb_digest=$(echo "$dynamodb_source_digest" | digest - "$0")
toxiproxy_digest=$(digest "$top/infra/versions.env" "$0")
base_tag="$namespace/base:${DEBIAN_SUITE}-${base_digest}"
redis_tag="$namespace/redis:${REDIS_VERSION}"
coredns_tag="$namespace/coredns:${COREDNS_VERSION}"
toxiproxy_tag="$namespace/toxiproxy:${TOXIPROXY_VERSION}"
dynamodb_tag="$namespace/dynamodb:minidyn-${MINIDYN_VERSION}"
app_tag=${DNSRACE_APP_IMAGE:-$namespace/app:local}   # a second checkout can build its own beside
coredns_binaries="$cache_dir/gobin/coredns-v$COREDNS_VERSION-$coredns_source_digest"
toxiproxy_binaries="$cache_dir/gobin/toxiproxy-v$TOXIPROXY_VERSION-stamped"
dynamodb_binaries="$cache_dir/gobin/dynamodb-minidyn-v$MINIDYN_VERSION-$dynamodb_source_digest"

started_ms=$(date +%s%3N)
# Progress goes to stderr so that functions can return values on stdout; every line has the time
# since the start, so the slow step is obvious.
say() {
  local elapsed_ms=$(( $(date +%s%3N) - started_ms ))
  printf 'images: [%3d.%d s] %s\n' $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 100)) "$*" >&2
}
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
# An image built from the current inputs: present and labelled with their digest.
have_current_image() {
  [ "$(docker image inspect -f '{{index .Config.Labels "dnsrace.inputs"}}' "$1" 2>/dev/null)" = "$2" ]
}
# The legacy builder (the only one on machines without buildx) warns on every build; the warning
# teaches nothing here, so it is filtered out and everything else is kept.
build() {
  timeout "$step_timeout_s" docker build -q --label dnsrace.built-by=build-images.sh "$@" 2> >(grep -v -e 'legacy builder is deprecated' -e 'Install the buildx' \
    -e 'docs.docker.com/go/buildx' -e '^[[:space:]]*$' >&2) >/dev/null
}

# --- parallel steps ------------------------------------------------------------------------------
declare -A step_pid=() step_started_ms=() step_what=()
start_step() {  # start_step NAME "WHAT" "ABOUT" FUNCTION [ARGS...]: run in the background, log to a file
  local name=$1; step_what[$1]=$2; local about=$3; shift 3
  say "$name: ${step_what[$name]}: started${about:+ (usually $about)}"
  ( "$@" ) >"$log_dir/$name.log" 2>&1 &
  step_pid[$name]=$!
  step_started_ms[$name]=$(date +%s%3N)
}
wait_steps() {  # wait for every started step; report each as it ends; fail naming the failed ones
  local failed=() pid name status
  while [ ${#step_pid[@]} -gt 0 ]; do
    status=0 pid=""
    # Any child: the steps are this shell's only background children (each one a subshell).
    wait -n -p pid || status=$?
    [ -n "${pid:-}" ] || { echo "images: lost track of the steps: ${!step_pid[*]}" >&2; exit 1; }
    for name in "${!step_pid[@]}"; do
      [ "${step_pid[$name]}" = "$pid" ] || continue
      local took_ms=$(( $(date +%s%3N) - step_started_ms[$name] ))
      unset "step_pid[$name]"
      if [ "$status" -eq 0 ]; then
        say "$name: ${step_what[$name]}: done in $((took_ms / 1000)).$((took_ms % 1000 / 100)) s"
      else
        say "$name: ${step_what[$name]}: FAILED (exit $status) after $((took_ms / 1000)) s; last lines of $log_dir/$name.log:"
        tail -n 15 "$log_dir/$name.log" | sed 's/^/    /' >&2
        failed+=("$name")
      fi
    done
  done
  [ ${#failed[@]} -eq 0 ] || { echo "images: failed: ${failed[*]} (logs in $log_dir)" >&2; exit 1; }
}

# --- the steps -----------------------------------------------------------------------------------
upstream_images_present() {
  have_image "$DEBIAN_IMAGE" && have_image "$COREDNS_UPSTREAM_IMAGE" \
    && have_image "$TOXIPROXY_UPSTREAM_IMAGE" && have_image "$REDIS_UPSTREAM_IMAGE"
}

choose_path() {  # sets $path
  case "${IMAGE_PATH:-auto}" in
    online|offline) path=$IMAGE_PATH; say "path=$path (forced by IMAGE_PATH)"; return ;;
    auto) ;;
    *) echo "images: IMAGE_PATH must be online, offline or auto, not '${IMAGE_PATH}'" >&2; exit 2 ;;
  esac
  local why
  if upstream_images_present; then
    path=online; say "path=online (the upstream images are present locally; nothing is pulled)"
  elif why=$(timeout "$pull_timeout_s" docker pull -q "$DEBIAN_IMAGE" 2>&1); then
    path=online; say "path=online (pulled $DEBIAN_IMAGE)"
  else
    path=offline; say "path=offline (no registry: $(echo "$why" | tail -n 1 | cut -c1-160))"
  fi
}

debian_mirror() {
  # The machine's own mirror, so the offline path uses whatever Debian source this host already uses.
  local uri=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  elif [ -f /etc/apt/sources.list ]; then
    uri=$(awk '/^deb / && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

# What `make up` needs on the host; `make test` and `make bench` install the rest (make deps).
host_packages() { bash "$top/infra/host-deps.sh" up; }

build_base_offline() {
  bash "$top/infra/host-deps.sh" debootstrap  # debootstrap alone first, so it can start sooner
  rootfs=$(mktemp -d /var/tmp/dnsrace-rootfs.XXXXXX)  # global: the EXIT trap of this step's subshell needs it
  trap 'rm -rf "$rootfs"' EXIT
  # The rest of the host packages install while debootstrap runs (it needs none of them).
  host_packages >"$log_dir/host.log" 2>&1 &
  local host_pid=$!
  echo "debootstrap $DEBIAN_SUITE with: $packages"
  timeout "$step_timeout_s" debootstrap --variant=minbase --include="$packages" "$DEBIAN_SUITE" "$rootfs" "$(debian_mirror)"
  wait "$host_pid" || { cat "$log_dir/host.log"; echo "host packages failed (log: $log_dir/host.log)"; exit 1; }
  install -D -m 0644 "$packages_file" "$rootfs/etc/dnsrace/packages.txt"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV LANG=C.UTF-8' \
      --change 'CMD ["/bin/bash"]' - "$base_tag"
}

build_base_online() {
  build -t "$base_tag" --build-arg DEBIAN_IMAGE="$DEBIAN_IMAGE" "$here/base"
}

go_build_coredns() {
  # Static, at the pinned release, with only the Corefile's plugins (infra/coredns-build/main.go).
  local pinned
  pinned=$(awk '$1 == "github.com/coredns/coredns" {print $2}' "$top/infra/coredns-build/go.mod")
  [ "$pinned" = "v$COREDNS_VERSION" ] \
    || { echo "infra/coredns-build/go.mod pins coredns $pinned, infra/versions.env says v$COREDNS_VERSION" >&2; exit 1; }
  local out="$coredns_binaries"
  if [ ! -x "$out/coredns" ]; then
    mkdir -p "$out.tmp"
    (cd "$top/infra/coredns-build" && CGO_ENABLED=0 timeout "$step_timeout_s" "$go_bin" build -trimpath -ldflags='-s -w' -o "$out.tmp/coredns" .)
    rm -rf "$out" && mv "$out.tmp" "$out"
  fi
}

go_build_toxiproxy() {
  local out="$toxiproxy_binaries"
  if [ ! -x "$out/toxiproxy" ] || [ ! -x "$out/toxiproxy-cli" ]; then
    mkdir -p "$out.tmp"
    # The version stamp upstream's release build sets (.goreleaser.yml), so `toxiproxy -version` says it.
    CGO_ENABLED=0 GOBIN="$out.tmp" timeout "$step_timeout_s" "$go_bin" install -trimpath \
      -ldflags="-s -w -X $TOXIPROXY_MODULE.Version=$TOXIPROXY_VERSION" \
      "$TOXIPROXY_MODULE/cmd/server@v$TOXIPROXY_VERSION" "$TOXIPROXY_MODULE/cmd/cli@v$TOXIPROXY_VERSION"
    mv "$out.tmp/server" "$out.tmp/toxiproxy"; mv "$out.tmp/cli" "$out.tmp/toxiproxy-cli"
    rm -rf "$out" && mv "$out.tmp" "$out"
  fi
}

go_build_dynamodb() {
  # The storage node: minidyn's DynamoDB API behind a capacity bound (infra/dynamodb-build/main.go).
  # Built from its Go module on both paths: minidyn publishes no image.
  local pinned
  pinned=$(grep -oE 'github.com/truora/minidyn v[^ ]+' "$top/infra/dynamodb-build/go.mod" | awk '{print $2}')
  [ "$pinned" = "v$MINIDYN_VERSION" ] \
    || { echo "infra/dynamodb-build/go.mod pins minidyn $pinned, infra/versions.env says v$MINIDYN_VERSION" >&2; exit 1; }
  local out="$dynamodb_binaries"
  if [ ! -x "$out/dnsrace-dynamodb" ]; then
    mkdir -p "$out.tmp"
    if [ -x "$go_bin" ]; then
      (cd "$top/infra/dynamodb-build" && CGO_ENABLED=0 timeout "$step_timeout_s" "$go_bin" build -trimpath -ldflags='-s -w' -o "$out.tmp/dnsrace-dynamodb" .)
    elif [ "${path:-}" = online ]; then  # a machine with a registry and no Go: Go's own image builds it
      timeout "$step_timeout_s" docker run --rm -e CGO_ENABLED=0 -v "$top/infra/dynamodb-build:/src:ro" -v "$out.tmp:/out" \
        -w /src "$GOLANG_UPSTREAM_IMAGE" go build -buildvcs=false -trimpath -ldflags='-s -w' -o /out/dnsrace-dynamodb .
    else
      echo "no Go at $go_bin and no registry: install Go (https://go.dev/dl) or set GO=/path/to/go" >&2; exit 1
    fi
    rm -rf "$out" && mv "$out.tmp" "$out"
  fi
}

# One step for both Go builds, one after the other: the second reuses the standard library and the
# shared modules (x/net, x/sys, the Prometheus client) the first compiled into the Go build cache.
# On two cores, building them side by side compiled all of that twice and finished later.
go_builds() {
  [ "$need_coredns" = 0 ] || go_build_coredns; [ "$need_toxiproxy" = 0 ] || go_build_toxiproxy
  [ "$need_dynamodb" = 0 ] || go_build_dynamodb
}

# Online: the binaries, copied out of the upstream image (used as it is when present; `docker create`
# pulls it when not). The same files the offline path builds, at the same paths as upstream's.
binaries_from_upstream() {  # binaries_from_upstream IMAGE DIR FILE...
  local image=$1 dir=$2 container file; shift 2
  mkdir -p "$dir"
  # The container is never started; an explicit entrypoint keeps `create` from depending on the image's.
  container=$(timeout "$pull_timeout_s" docker create --entrypoint "/$1" "$image")
  for file in "$@"; do docker cp "$container:/$file" "$dir/$file"; done
  docker rm "$container" >/dev/null
}

upstream_binaries() {
  [ "$need_coredns" = 0 ] || binaries_from_upstream "$COREDNS_UPSTREAM_IMAGE" "$coredns_binaries" coredns
  [ "$need_toxiproxy" = 0 ] || binaries_from_upstream "$TOXIPROXY_UPSTREAM_IMAGE" "$toxiproxy_binaries" toxiproxy toxiproxy-cli
}

# Images on the base are made by `docker create` + `docker cp` + one `docker commit`, not `docker build`:
# with the legacy builder on fuse-overlayfs every Dockerfile step commits a layer, and each commit walks
# the whole 230 MB tree (naive diff), 2-4 s each; three such builds side by side took 37-47 s in a cold
# start, against about 4 s each this way. The result is what a two-line Dockerfile would give
# (FROM base, COPY; then ENTRYPOINT, LABEL).
commit_on_base() {  # commit_on_base TAG CONTAINER CHANGE... : commit, labelled, and remove the container
  local tag=$1 container=$2; shift 2
  local changes=() change
  for change in "$@" "LABEL dnsrace.built-by=build-images.sh dnsrace.path=$path"; do changes+=(--change "$change"); done
  timeout "$step_timeout_s" docker commit "${changes[@]}" "$container" "$tag" >/dev/null
  docker rm "$container" >/dev/null
}

image_on_base() {  # image_on_base TAG DIGEST BINARY_DIR ENTRYPOINT: the base plus the binaries
  local container
  container=$(docker create --entrypoint /bin/true "$base_tag")
  docker cp "$3/." "$container:/usr/local/bin/"
  commit_on_base "$1" "$container" "ENTRYPOINT [\"/usr/local/bin/$4\"]" 'CMD []' "LABEL dnsrace.inputs=$2"
}

tag_redis() {
  if [ "$path" = online ] && ! have_image "$REDIS_UPSTREAM_IMAGE"; then
    timeout "$pull_timeout_s" docker pull -q "$REDIS_UPSTREAM_IMAGE"
  fi
  # Offline: Debian bookworm's redis-server is the same 7.0.15 release as the upstream tag.
  docker tag "$([ "$path" = online ] && echo "$REDIS_UPSTREAM_IMAGE" || echo "$base_tag")" "$redis_tag"
}

# The app image follows the code: rebuilt when anything under services/ changed (its label names the
# tree's digest), a no-op otherwise. The services are compiled once here: with PYTHONDONTWRITEBYTECODE
# every start would otherwise compile them again (the imports of a service took 1.9-3.2 s without,
# 0.75 s with, measured in the container; a reset starts five of them at once on two cores).
services_digest() {
  (cd "$top" && find services -type f -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum) \
    | cat - "$0" | sha256sum | cut -c1-12
}

build_app() {
  local digest container
  digest=$(services_digest)
  if have_current_image "$app_tag" "$digest"; then echo "unchanged ($digest)"; return; fi
  container=$(docker create --entrypoint "" "$base_tag" python3 -m compileall -q /app/services)
  tar -C "$top" --exclude=__pycache__ --transform 's,^services,app/services,' -c services | docker cp - "$container:/"
  timeout "$step_timeout_s" docker start -a "$container"
  commit_on_base "$app_tag" "$container" \
    "ENV PYTHONPATH=/app/services/common:/app/services/dns-admin:/app/services/planner:/app/services/enactor:/app/services/backend:/app/services/ec2" \
    'ENV PYTHONUNBUFFERED=1' 'ENV PYTHONDONTWRITEBYTECODE=1' 'WORKDIR /app' 'CMD ["/bin/bash"]' \
    "LABEL dnsrace.inputs=$digest"
}

main() {
  mkdir -p "$cache_dir/gobin" "$log_dir"
  local path need_base=1 need_coredns=1 need_toxiproxy=1 need_redis=1 need_dynamodb=1
  have_image "$base_tag" && need_base=0
  have_current_image "$coredns_tag" "$coredns_digest" && need_coredns=0
  have_current_image "$toxiproxy_tag" "$toxiproxy_digest" && need_toxiproxy=0
  have_image "$redis_tag" && need_redis=0
  have_current_image "$dynamodb_tag" "$dynamodb_digest" && need_dynamodb=0
  if [ $((need_base + need_coredns + need_toxiproxy + need_redis + need_dynamodb)) -eq 0 ]; then
    path=present; say "base, coredns, toxiproxy, redis, dynamodb images present and current (no path to choose)"
  else
    choose_path
  fi

  # Stage 1: what needs nothing else, in parallel.
  if [ "$path" = offline ]; then
    [ $need_base = 1 ] && start_step base "debootstrap + docker import (and the host packages meanwhile)" "60-110 s" build_base_offline
    if [ $need_coredns = 1 ] || [ $need_toxiproxy = 1 ] || [ $need_dynamodb = 1 ]; then
      start_step go "CoreDNS with the Corefile's plugins, then Toxiproxy, then the DynamoDB node (minidyn)" "80-130 s from empty Go caches" go_builds
    fi
  else
    [ $need_base = 1 ] && start_step base "from $DEBIAN_IMAGE + apt-get" "30-60 s" build_base_online
    # Online binaries go to their own directory: the offline cache holds only what was built here.
    coredns_binaries="$cache_dir/upstream/coredns-$COREDNS_VERSION"; toxiproxy_binaries="$cache_dir/upstream/toxiproxy-$TOXIPROXY_VERSION"
    rm -rf "$coredns_binaries" "$toxiproxy_binaries"
    if [ $need_coredns = 1 ] || [ $need_toxiproxy = 1 ]; then
      start_step upstream "binaries from $COREDNS_UPSTREAM_IMAGE and $TOXIPROXY_UPSTREAM_IMAGE" "" upstream_binaries
    fi
    [ $need_dynamodb = 1 ] && start_step dynamodb-go "the DynamoDB node from minidyn's Go module" "30-60 s" go_build_dynamodb
  fi
  # Host packages (dig, dnsperf, the Python libraries the tests use) are needed by `make up` and
  # `make test` whatever the path; the offline base step installs them first, as it needs debootstrap.
  if [ "$path" != offline ] || [ $need_base = 0 ]; then
    start_step host "packages for make up and make test (apt-get)" "0-40 s" host_packages
  fi
  wait_steps
  have_image "$base_tag" || { echo "images: $base_tag is missing after its step" >&2; exit 1; }

  # Stage 2: the images built on the base, in parallel (seconds each).
  [ $need_coredns = 1 ] && start_step coredns "image $coredns_tag" "" \
    image_on_base "$coredns_tag" "$coredns_digest" "$coredns_binaries" coredns
  [ $need_toxiproxy = 1 ] && start_step toxiproxy "image $toxiproxy_tag" "" \
    image_on_base "$toxiproxy_tag" "$toxiproxy_digest" "$toxiproxy_binaries" toxiproxy
  [ $need_redis = 1 ] && start_step redis "image $redis_tag" "" tag_redis
  [ $need_dynamodb = 1 ] && start_step dynamodb "image $dynamodb_tag" "" \
    image_on_base "$dynamodb_tag" "$dynamodb_digest" "$dynamodb_binaries" dnsrace-dynamodb
  start_step app "image $app_tag" "" build_app
  wait_steps
  # What a rebuild replaced (untagged images this script made, never anyone else's) would pile up.
  docker image prune -f --filter label=dnsrace.built-by=build-images.sh >/dev/null 2>&1 || true
  say "all images ready"
}

main "$@"
