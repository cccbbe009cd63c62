# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rules for settings, written once: the modules and the stage checks (through the collection's
filter plugin) call the same functions. Each returns None when the value is usable, else a
sentence that says what is wrong with it."""

from __future__ import annotations

import re

try:
    import botocore.session
except ImportError:  # The modules report a missing botocore themselves.
    botocore = None

_REGION_SHAPE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


def known_regions():
    """Every region botocore's bundled endpoint data knows, across all partitions."""
    session = botocore.session.get_session()
    regions = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("ec2", partition_name=partition))
    return regions


def region_problem(region):
    if not region:
        return "region is not set: pass region (alias aws_region) or set AWS_REGION, for example us-east-1"
    if not isinstance(region, str) or not _REGION_SHAPE.fullmatch(region):
        return f"region '{region}' is not an AWS region name: use a name such as us-east-1 or eu-west-2"
    if botocore is not None and region not in known_regions():
        return f"region '{region}' is not a region AWS offers EC2 in: use a name such as us-east-1 or eu-west-2"
    return None
