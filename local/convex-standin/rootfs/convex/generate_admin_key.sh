#!/bin/sh
# TEST STAND-IN for the backend image's generate_admin_key.sh: like upstream's
# (self-hosted/docker-build/generate_admin_key.sh), it reads the instance's credentials and
# prints one admin key made from INSTANCE_NAME and INSTANCE_SECRET only, as name|hex.
exec python3 /usr/local/bin/convex-standin admin-key
