#!/bin/sh
# TEST STAND-IN for the backend image's generate_admin_key.sh: prints an admin key made from
# INSTANCE_NAME and INSTANCE_SECRET only, in the form instance_name|hex.
exec python3 /usr/local/bin/convex-standin admin-key
