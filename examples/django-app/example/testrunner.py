"""Django's test runner plus a JUnit XML report, without extra packages (none on the base image).

The report goes to $JUNIT_XML (default test-results/junit.xml under the project): CI collects it as
an artifact (pallet.yml test.artifacts). Writing it never changes the exit code.
"""
import os
import time
import unittest
from xml.etree import ElementTree as ET

from django.test.runner import DiscoverRunner


class JUnitResult(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cases = []  # (test, outcome, detail, seconds)
        self._started = 0.0

    def startTest(self, test):
        self._started = time.monotonic()
        super().startTest(test)

    def _record(self, test, outcome, detail=""):
        self.cases.append((test, outcome, detail, time.monotonic() - self._started))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "failure", self.failures[-1][1])

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, "error", self.errors[-1][1])

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skipped", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._record(test, "passed")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._record(test, "failure", "unexpected success")


def junit_xml(cases):
    suite = ET.Element("testsuite", name="example", tests=str(len(cases)))
    counts = {"failure": 0, "error": 0, "skipped": 0}
    total = 0.0
    for test, outcome, detail, seconds in cases:
        total += seconds
        cls, _, name = test.id().rpartition(".")
        case = ET.SubElement(suite, "testcase", classname=cls, name=name, time=f"{seconds:.3f}")
        if outcome in counts:
            counts[outcome] += 1
            tag = "skipped" if outcome == "skipped" else outcome
            child = ET.SubElement(case, tag, message=detail.strip().splitlines()[-1][:200] if detail else "")
            if outcome != "skipped":
                child.text = detail
    suite.set("failures", str(counts["failure"]))
    suite.set("errors", str(counts["error"]))
    suite.set("skipped", str(counts["skipped"]))
    suite.set("time", f"{total:.3f}")
    return ET.ElementTree(suite)


class JUnitDiscoverRunner(DiscoverRunner):
    def get_resultclass(self):
        # Keep Django's --debug-sql / --pdb behaviour when asked for.
        return super().get_resultclass() or JUnitResult

    def run_suite(self, suite, **kwargs):
        result = super().run_suite(suite, **kwargs)
        cases = getattr(result, "cases", None)
        if cases is not None:
            path = os.environ.get("JUNIT_XML") or os.path.join(os.getcwd(), "test-results", "junit.xml")
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                junit_xml(cases).write(path, encoding="utf-8", xml_declaration=True)
                print(f"JUnit report: {path}")
            except OSError as e:
                print(f"JUnit report not written to {path}: {e}")
        return result
