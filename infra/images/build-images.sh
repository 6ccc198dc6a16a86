#!/usr/bin/env bash
# Builds every image the compose file names, by one of two paths, and only what is missing.
#
#   online : upstream images (debian:bookworm-slim, coredns/coredns, ghcr.io/shopify/toxiproxy, redis)
#   offline: no registry — the base from debootstrap + `docker import`, CoreDNS and Toxiproxy built
#            static from their Go modules at the same versions and put in FROM-scratch images
#
# Both paths read the same package list (infra/images/base/packages.txt) and the same pinned
# versions (infra/versions.env), and produce the same local tags, so docker-compose.yml never changes.
#
# IMAGE_PATH=online|offline forces a path; by default the script tries to pull the Debian image and
# takes the offline path when that fails. The choice is printed, with the reason.
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=../versions.env
set -a; . "$top/infra/versions.env"; set +a

cache_dir=${DNSRACE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dnsrace}
go_bin=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
packages_file="$here/base/packages.txt"
packages=$(grep -v '^#' "$packages_file" | grep -v '^[[:space:]]*$' | paste -sd, -)

# The base tag names its content, so a changed package list makes a new base (and nothing else does).
base_digest=$(cat "$packages_file" "$here/base/Dockerfile" "$top/infra/versions.env" | sha256sum | cut -c1-12)
base_tag="dnsrace/base:${DEBIAN_SUITE}-${base_digest}"
redis_tag="dnsrace/redis:${REDIS_VERSION}"
coredns_tag="dnsrace/coredns:${COREDNS_VERSION}"
toxiproxy_tag="dnsrace/toxiproxy:${TOXIPROXY_VERSION}"
app_tag="dnsrace/app:local"

# Progress goes to stderr so that functions can return values on stdout.
say() { printf 'images: %s\n' "$*" >&2; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
# The legacy builder (the only one on machines without buildx) warns on every build; the warning
# teaches nothing here, so it is filtered out and everything else is kept.
build() {
  docker build -q "$@" 2> >(grep -v -e 'legacy builder is deprecated' -e 'Install the buildx' \
    -e 'docs.docker.com/go/buildx' -e '^[[:space:]]*$' >&2) >/dev/null
}

choose_path() {  # sets $path
  case "${IMAGE_PATH:-auto}" in
    online|offline) path=$IMAGE_PATH; say "path=$path (forced by IMAGE_PATH)"; return ;;
    auto) ;;
    *) echo "images: IMAGE_PATH must be online, offline or auto, not '${IMAGE_PATH}'" >&2; exit 2 ;;
  esac
  local why
  if why=$(timeout 60 docker pull -q "$DEBIAN_IMAGE" 2>&1); then
    path=online; say "path=online (pulled $DEBIAN_IMAGE)"
  else
    path=offline; say "path=offline (no registry: $(echo "$why" | tail -n 1 | cut -c1-200))"
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

build_base_offline() {
  command -v debootstrap >/dev/null || { echo "images: debootstrap is missing (make deps installs it)" >&2; exit 1; }
  local rootfs
  rootfs=$(mktemp -d /var/tmp/dnsrace-rootfs.XXXXXX)
  say "debootstrap $DEBIAN_SUITE with: $packages (about 80 s)"
  debootstrap --variant=minbase --include="$packages" "$DEBIAN_SUITE" "$rootfs" "$(debian_mirror)" \
    >"$cache_dir/debootstrap.log" 2>&1 \
    || { tail -n 20 "$cache_dir/debootstrap.log" >&2; echo "images: debootstrap failed (log: $cache_dir/debootstrap.log)" >&2; exit 1; }
  install -D -m 0644 "$packages_file" "$rootfs/etc/dnsrace/packages.txt"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV LANG=C.UTF-8' \
      --change 'CMD ["/bin/bash"]' - "$base_tag" >/dev/null
  rm -rf "$rootfs"
}

go_binary() {
  # go_binary MODULE_PATH VERSION NAME -> path of a static binary, built once per version and cached
  # outside the work tree (a fresh clone reuses it; a fresh machine rebuilds it).
  local module=$1 version=$2 name=$3 out="$cache_dir/gobin/$3-v$2"
  if [ ! -x "$out/$name" ]; then
    mkdir -p "$out.tmp"
    say "go install $module@v$version (static; 2-3 min on empty Go caches)"
    CGO_ENABLED=0 GOBIN="$out.tmp" "$go_bin" install -trimpath -ldflags='-s -w' "$module@v$version"
    local built="$out.tmp/$(basename "$module")"
    [ "$built" = "$out.tmp/$name" ] || mv "$built" "$out.tmp/$name"
    rm -rf "$out" && mv "$out.tmp" "$out"
  fi
  echo "$out/$name"
}

source_image_offline() {
  # source_image_offline TAG FILE:/PATH... -> a FROM-scratch image with each file at /PATH
  local tag=$1; shift
  have_image "$tag" && return
  local context
  context=$(mktemp -d)
  local spec
  for spec in "$@"; do cp "${spec%%:*}" "$context/${spec#*:}"; done
  build -t "$tag" -f "$here/binary/Dockerfile" "$context"
  rm -rf "$context"
}

main() {
  mkdir -p "$cache_dir"
  local path
  if have_image "$base_tag" && have_image "$coredns_tag" && have_image "$toxiproxy_tag" && have_image "$redis_tag"; then
    path=present; say "base, coredns, toxiproxy, redis images present (no path to choose)"
  else
    choose_path
  fi

  if have_image "$base_tag"; then say "$base_tag present"
  elif [ "$path" = online ]; then
    say "building $base_tag from $DEBIAN_IMAGE"
    build -t "$base_tag" --build-arg DEBIAN_IMAGE="$DEBIAN_IMAGE" "$here/base"
  else
    build_base_offline
  fi

  local coredns_source toxiproxy_source redis_source
  if [ "$path" = online ]; then
    coredns_source=$COREDNS_UPSTREAM_IMAGE; toxiproxy_source=$TOXIPROXY_UPSTREAM_IMAGE; redis_source=$REDIS_UPSTREAM_IMAGE
  else
    coredns_source="dnsrace/coredns-binary:$COREDNS_VERSION"
    toxiproxy_source="dnsrace/toxiproxy-binary:$TOXIPROXY_VERSION"
    # Debian bookworm's redis-server is the same 7.0.15 release as the upstream tag.
    redis_source=$base_tag
  fi

  if have_image "$coredns_tag"; then say "$coredns_tag present"
  else
    if [ "$path" = offline ]; then
      source_image_offline "$coredns_source" "$(go_binary "$COREDNS_MODULE" "$COREDNS_VERSION" coredns):coredns"
    fi
    say "building $coredns_tag from $coredns_source"
    build -t "$coredns_tag" --build-arg COREDNS_SOURCE_IMAGE="$coredns_source" --build-arg BASE_IMAGE="$base_tag" "$here/coredns"
  fi

  if have_image "$toxiproxy_tag"; then say "$toxiproxy_tag present"
  else
    if [ "$path" = offline ]; then
      source_image_offline "$toxiproxy_source" \
        "$(go_binary "$TOXIPROXY_MODULE/cmd/server" "$TOXIPROXY_VERSION" toxiproxy):toxiproxy" \
        "$(go_binary "$TOXIPROXY_MODULE/cmd/cli" "$TOXIPROXY_VERSION" toxiproxy-cli):toxiproxy-cli"
    fi
    say "building $toxiproxy_tag from $toxiproxy_source"
    build -t "$toxiproxy_tag" --build-arg TOXIPROXY_SOURCE_IMAGE="$toxiproxy_source" --build-arg BASE_IMAGE="$base_tag" "$here/toxiproxy"
  fi

  if have_image "$redis_tag"; then say "$redis_tag present"
  else
    [ "$path" = online ] && docker pull -q "$redis_source" >/dev/null
    say "tagging $redis_source as $redis_tag"
    docker tag "$redis_source" "$redis_tag"
  fi

  # The app image follows the code: always rebuilt, which the layer cache makes a no-op when
  # nothing under services/ changed.
  build -t "$app_tag" --build-arg BASE_IMAGE="$base_tag" -f "$here/app/Dockerfile" "$top"
  say "$app_tag built"
}

main "$@"
