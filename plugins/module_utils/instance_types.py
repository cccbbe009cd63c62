# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the stage model knows of EC2 instance types and RDS DB instance classes without asking AWS:
the architecture each instance family runs, and the sizes of each DB class family that runs MySQL 8.

Every family EC2 offered in November 2026, as EC2's own DescribeInstanceTypes describes its types
(ProcessorInfo.SupportedArchitectures), grouped by architecture. A family missing here (one AWS
added since) is not guessed at: the stage model asks DescribeInstanceTypes, read-only, before any
write. tests/integration/test_instance_types.py holds this table to the AWS emulator's answer,
which carries AWS's data.
"""

from __future__ import annotations

import re


def _families(text):
    return frozenset(text.split())


# Graviton (arm64) families.
ARM64_FAMILIES = _families(
    """
    a1 c6g c6gd c6gn c7g c7gd c7gn c8g c8gb c8gd c8gn c9g c9gd g5g hpc7g i4g i8g i8ge im4gn is4gen
    m6g m6gd m7g m7gd m8g m8gb m8gd m8gn m9g m9gd r6g r6gd r7g r7gd r8g r8gb r8gd r8gn r9g r9gd t4g
    x2gd x8g
    """
)

# x86_64 families (the oldest also run i386).
X86_64_FAMILIES = _families(
    """
    c1 c3 c4 c5 c5a c5ad c5d c5n c6a c6i c6id c6in c7a c7i c7i-flex c8a c8i c8i-flex c8ib c8id c8in
    c8ine d2 d3 d3en dl2q f2 g4dn g5 g6 g6e g6f g7 g7e gr6 gr6f h1 hpc6a hpc6id hpc7a hpc8a i2 i3
    i3en i4i i7i i7ie inf1 inf2 m1 m2 m3 m4 m5 m5a m5ad m5d m5dn m5n m5zn m6a m6i m6id m6idn m6in
    m7a m7i m7i-flex m8a m8azn m8i m8i-flex m8ib m8id m8idb m8idn m8in m8ine p3dn p4d p4de p5 p5e
    p5en p6-b200 p6-b300 r3 r4 r5 r5a r5ad r5b r5d r5dn r5n r6a r6i r6id r6idn r6in r7a r7i r7iz r8a
    r8i r8i-flex r8ib r8id r8idb r8idn r8in t1 t2 t3 t3a t8i trn1 trn1n trn2 trn2u u-3tb1 u-6tb1
    u7i-12tb u7i-6tb u7i-8tb u7in-16tb u7in-24tb u7in-32tb vt1 x1 x1e x2idn x2iedn x2iezn x8aedz x8i
    z1d
    """
)

# Mac families run macOS only (arm64_mac, x86_64_mac), never Debian or Ubuntu.
MAC_FAMILIES = _families(
    """
    mac-m3ultra mac-m4 mac-m4max mac-m4pro mac1 mac2 mac2-m1ultra mac2-m2 mac2-m2pro
    """
)

# <family>.<size>: the family is everything before the last dot (u7i-12tb.224xlarge).
_TYPE = re.compile(r"([a-z][a-z0-9-]*)\.([a-z0-9][a-z0-9-]*)")


def family_of(instance_type):
    """The family of an instance type shaped like one (t4g of t4g.small), else None."""
    match = _TYPE.fullmatch(instance_type) if isinstance(instance_type, str) else None
    return match.group(1) if match else None


def architecture_of(instance_type):
    """arm64, x86_64 or mac for a known family; None for a type of a family not in the table."""
    family = family_of(instance_type)
    if family in ARM64_FAMILIES:
        return "arm64"
    if family in X86_64_FAMILIES:
        return "x86_64"
    if family in MAC_FAMILIES:
        return "mac"
    return None


_GRAVITON_DB = "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge"
_INTEL_DB = f"{_GRAVITON_DB} 24xlarge"
_BURSTABLE_DB = "micro small medium large xlarge 2xlarge"
# The current-generation DB instance class families RDS for MySQL 8 runs on, and their sizes.
# Source: the Amazon RDS User Guide, "Supported DB engines for DB instance classes" (the MySQL
# column, awsdocs/amazon-rds-user-guide at f2e9ed35, 2023). db.m7i, db.r7i, db.m8g and db.r8g
# came to RDS for MySQL after that table: their sizes are their EC2 family's from large up, without
# metal (EC2's DescribeInstanceTypes). Not here: db.z1d, db.x1 and db.x1e (SQL Server and Oracle
# only), and previous generations (db.m3, db.r3, db.m4, db.r4, db.t2).
DB_CLASS_SIZES = {
    "t3": _BURSTABLE_DB,
    "t4g": _BURSTABLE_DB,
    "m5": _INTEL_DB,
    "m5d": _INTEL_DB,
    "m6g": _GRAVITON_DB,
    "m6gd": _GRAVITON_DB,
    "m6i": f"{_INTEL_DB} 32xlarge",
    "m7g": _GRAVITON_DB,
    "m7i": f"{_INTEL_DB} 48xlarge",
    "m8g": f"{_INTEL_DB} 48xlarge",
    "r5": _INTEL_DB,
    "r5b": _INTEL_DB,
    "r5d": _INTEL_DB,
    "r6g": _GRAVITON_DB,
    "r6gd": _GRAVITON_DB,
    "r6i": f"{_INTEL_DB} 32xlarge",
    "r7g": _GRAVITON_DB,
    "r7i": f"{_INTEL_DB} 48xlarge",
    "r8g": f"{_INTEL_DB} 48xlarge",
    "x2g": _GRAVITON_DB,
    "x2idn": "16xlarge 24xlarge 32xlarge",
    "x2iedn": "xlarge 2xlarge 4xlarge 8xlarge 16xlarge 24xlarge 32xlarge",
}


def db_class_sizes(family):
    """The sizes RDS for MySQL 8 offers in a DB class family (t4g of db.t4g.micro), or None."""
    sizes = DB_CLASS_SIZES.get(family)
    return sizes.split() if sizes else None
