#!/usr/bin/env bash
# Build the local test images from Debian packages: mmdebstrap makes a root file system,
# `docker import` turns it into an image. Nothing is pulled from a registry.
# A recipe is a folder with: suite (Debian release), packages (one a line), and optionally
# variant (mmdebstrap's, default minbase) and cmd (the image's command as JSON, default systemd). Each image is tagged with a hash of its recipe, so it is rebuilt only when the
# recipe changes, and also tagged :current for the molecule platform to use.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${CONVEX_TEST_IMAGE_CACHE:-$here/../../.cache/images}
mkdir -p "$cache"

need_mmdebstrap() {
  command -v mmdebstrap >/dev/null 2>&1 && return
  echo "images: installing mmdebstrap"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq mmdebstrap >/dev/null
}

for recipe in "$here"/*/; do
  name=$(basename "$recipe")
  [ -f "$recipe/packages" ] || continue
  variant=$(cat "$recipe/variant" 2>/dev/null || echo minbase)
  cmd=$(cat "$recipe/cmd" 2>/dev/null || echo '["/sbin/init"]')
  digest=$( (cd "$recipe" && cat suite packages && echo "$variant" "$cmd") | sha256sum | cut -c1-12)
  image="convex-test/$name:$digest"
  if docker image inspect "$image" >/dev/null 2>&1; then
    echo "images: $image is up to date"
  else
    tarball="$cache/$name-$digest.tar"
    if [ ! -s "$tarball" ]; then
      need_mmdebstrap
      packages=$(grep -v '^#' "$recipe/packages" | grep -v '^$' | paste -sd, -)
      echo "images: building $name from Debian $(cat "$recipe/suite") packages"
      mmdebstrap --quiet --format=tar --variant="$variant" --include="$packages" "$(cat "$recipe/suite")" "$tarball.part"
      mv "$tarball.part" "$tarball"
      # Old tarballs of this image are dead weight once a new recipe is built.
      find "$cache" -name "$name-*.tar" ! -name "$name-$digest.tar" -delete
    fi
    docker import --change "CMD $cmd" "$tarball" "$image" >/dev/null
    echo "images: imported $image"
  fi
  docker tag "$image" "convex-test/$name:current"
  # Images of older recipes of this name are dead weight.
  docker images --format '{{.Repository}}:{{.Tag}}' "convex-test/$name" |
    { grep -v -e ":$digest\$" -e ':current$' || true; } | xargs -r docker rmi >/dev/null
done
