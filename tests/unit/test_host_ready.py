"""host_ready's facts from os-release, against what ansible.builtin.setup reports on the systems the
roles support (molecule base compares the two on the real test host as well)."""

from __future__ import annotations

from ansible_collections.convex_selfhost.aws.plugins.modules.host_ready import facts, os_release

# The files as Debian 13 (the test hosts' image) and Ubuntu 24.04 ship them.
DEBIAN_13 = """PRETTY_NAME="Debian GNU/Linux 13 (trixie)"
NAME="Debian GNU/Linux"
VERSION_ID="13"
VERSION="13 (trixie)"
VERSION_CODENAME=trixie
DEBIAN_VERSION_FULL=13.8
ID=debian
HOME_URL="https://www.debian.org/"
"""
UBUNTU_2404 = """PRETTY_NAME="Ubuntu 24.04.3 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.3 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
"""


def test_debian_takes_its_point_release_from_debian_version():
    assert facts(os_release(DEBIAN_13), "13.8\n") == {
        "distribution": "Debian",
        "distribution_release": "trixie",
        "distribution_version": "13.8",
        "distribution_major_version": "13",
    }


def test_debian_testing_without_a_number_keeps_the_os_release_version():
    assert facts(os_release(DEBIAN_13), "trixie/sid\n")["distribution_version"] == "13"


def test_ubuntu_reports_its_version_and_code_name():
    assert facts(os_release(UBUNTU_2404), "trixie/sid\n") == {
        "distribution": "Ubuntu",
        "distribution_release": "noble",
        "distribution_version": "24.04",
        "distribution_major_version": "24",
    }


def test_another_system_is_named_so_the_roles_can_refuse_it():
    found = facts(os_release('NAME="Fedora Linux"\nID=fedora\nVERSION_ID=41\n'))
    assert (found["distribution"], found["distribution_major_version"]) == ("Fedora", "41")


def test_quotes_and_comments_are_read_as_a_shell_would():
    assert os_release("# a comment\nNAME='Some OS'\nEMPTY=\nID=\"x\"\n") == {"NAME": "Some OS", "EMPTY": "", "ID": "x"}
