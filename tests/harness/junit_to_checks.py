"""Turn a pytest JUnit XML report into one PASS/FAIL line per test case (tab-separated)."""

import sys
import xml.etree.ElementTree as ET


def main(path, stage):
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{stage}: {case.get('classname', '')}::{case.get('name', '')}"
        outcome = "PASS"
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "FAIL"
        elif case.find("skipped") is not None:
            outcome = "SKIP"
        print(f"{outcome}\t{name}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
