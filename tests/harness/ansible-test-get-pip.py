"""Stand-in for the get-pip.py script that ansible-test downloads to put pip into the virtual
environments it makes for sanity tests. Its download host is not reachable from these machines;
this does the same job with Python's own ensurepip, then installs what was asked from the
package index pip is configured for. sanity.sh seeds ansible-test's cache with it.
"""

import subprocess
import sys

# get-pip.py understands these two flags of its own; plain pip does not.
OWN_FLAGS = {"--no-setuptools", "--no-wheel"}

# In a process of its own: ensurepip points PIP_CONFIG_FILE at /dev/null in the process that runs
# it, which would hide this machine's pip settings (its CA bundle, its indexes) from the install.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
subprocess.check_call([sys.executable, "-m", "pip", "install", *[a for a in sys.argv[1:] if a not in OWN_FLAGS]])
