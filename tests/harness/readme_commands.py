"""The shell commands of README.md, as a reader would type them.

Every line of a ```sh block is one command (comments and blank lines aside). A block that
follows text saying "(on the host)" holds commands for the stage's host; every other block is
for the controller, from the repository's root. The docs tests run or check each of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
FENCE = re.compile(r"^```sh\n(.*?)^```$", re.S | re.M)


@dataclass(frozen=True)
class Command:
    text: str
    where: str  # "controller" or "host"
    line: int

    def __str__(self):
        return f"README.md:{self.line} ({self.where}): {self.text}"


def readme_commands(readme: Path = README) -> list[Command]:
    text = readme.read_text()
    commands = []
    for block in FENCE.finditer(text):
        before = text[: block.start()].rstrip().splitlines()[-1] if block.start() else ""
        where = "host" if "(on the host)" in before else "controller"
        first_line = text.count("\n", 0, block.start(1)) + 1
        for offset, line in enumerate(block.group(1).splitlines()):
            if line.strip() and not line.lstrip().startswith("#"):
                commands.append(Command(line.strip(), where, first_line + offset))
    return commands


def needs_a_stage(command: Command) -> bool:
    """Commands that only mean something on a deployed stage (the dev stage's, or the local
    stage's used from this machine); the e2e suite runs these."""
    return command.where == "host" or "convex-dev" in command.text or command.text.startswith("curl ")
