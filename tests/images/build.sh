#!/usr/bin/env bash
# Build the local images from Debian packages: mmdebstrap makes a root file system, `docker
# import` turns it into an image. Nothing is pulled from a registry. The recipes are the test
# hosts' (tests/images/*), the local stage's TEST STAND-IN for the Convex images
# (local/convex-standin) and its stand-in for RDS's database servers (local/rds-standin).
# A recipe is a folder with: suite (Debian release), packages (one a line), and optionally
# variant (mmdebstrap's, default minbase), cmd (the image's command as JSON, default systemd),
# rootfs/ (files copied over the root file system) and import (a script that makes the images
# from the tarball itself, for recipes that give more than one image). Each image is tagged with a hash of its recipe, so it is rebuilt only when the
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

for recipe in "$here"/*/ "$here/../../local/convex-standin/" "$here/../../local/rds-standin/"; do
  name=$(basename "$recipe")
  [ -f "$recipe/packages" ] || continue
  variant=$(cat "$recipe/variant" 2>/dev/null || echo minbase)
  cmd=$(cat "$recipe/cmd" 2>/dev/null || echo '["/sbin/init"]')
  digest=$( (cd "$recipe" && cat suite packages && echo "$variant" "$cmd" &&
    find . -path ./packages -prune -o -type f -print0 | sort -z | xargs -0 -r sha256sum) | sha256sum | cut -c1-12)
  image="convex-test/$name:$digest"
  if docker image inspect "$image" >/dev/null 2>&1; then
    echo "images: $image is up to date"
  else
    tarball="$cache/$name-$digest.tar"
    if [ ! -s "$tarball" ]; then
      need_mmdebstrap
      packages=$(grep -v '^#' "$recipe/packages" | grep -v '^$' | paste -sd, -)
      echo "images: building $name from Debian $(cat "$recipe/suite") packages"
      hooks=()
      [ -d "$recipe/rootfs" ] && hooks=(--customize-hook="sync-in $recipe/rootfs /")
      mmdebstrap --quiet --format=tar --variant="$variant" --include="$packages" "${hooks[@]}" \
        "$(cat "$recipe/suite")" "$tarball.part"
      mv "$tarball.part" "$tarball"
      # Old tarballs of this image are dead weight once a new recipe is built.
      find "$cache" -name "$name-*.tar" ! -name "$name-$digest.tar" -delete
    fi
    if [ -x "$recipe/import" ]; then
      "$recipe/import" "$tarball" "$image"
    else
      docker import --change "CMD $cmd" "$tarball" "$image" >/dev/null
    fi
    echo "images: imported $image"
  fi
  docker tag "$image" "convex-test/$name:current"
  # Images of older recipes of this name are dead weight.
  docker images --format '{{.Repository}}:{{.Tag}}' "convex-test/$name" |
    { grep -v -e ":$digest\$" -e ':current$' || true; } | xargs -r docker rmi >/dev/null
done
