# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The official machine images of the operating systems a Convex host runs, looked up once here
for both the stage model's check and the instance module's launch."""

from __future__ import annotations

# Owner account and name pattern of the official images, by OS and architecture.
IMAGES = {
    "debian13": ("136693071363", {"arm64": "debian-13-arm64-*", "x86_64": "debian-13-amd64-*"}),
    "ubuntu2404": (
        "099720109477",
        {
            "arm64": "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-*",
            "x86_64": "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*",
        },
    ),
}


def find_image(describe_images, os_name, architecture):
    """The newest available official image of os_name for architecture, or None.
    describe_images is the caller's EC2 DescribeImages call, with its own error handling."""
    owner, patterns = IMAGES[os_name]
    images = describe_images(
        Owners=[owner],
        Filters=[
            {"Name": "name", "Values": [patterns[architecture]]},
            {"Name": "architecture", "Values": [architecture]},
            {"Name": "state", "Values": ["available"]},
        ],
    )["Images"]
    return max(images, key=lambda image: image.get("CreationDate", "")) if images else None
