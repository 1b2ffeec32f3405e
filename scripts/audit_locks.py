"""Audit the hash-pinned locks with pip-audit; fail on a vulnerability that has a fix.

    python scripts/audit_locks.py requirements/runtime.lock requirements/dev.lock

pip-audit exits 1 on any known vulnerability, fixed upstream or not, and has no flag to
tell the two apart (pypa/pip-audit#670: filter its JSON). A vulnerability with a fixed
version is ours to act on (move the pin: `make lock LOCK_FLAGS="--upgrade-package X"`);
one without a fix is printed and does not fail the build.

A package the vulnerability service could not answer for was not audited at all. That
fails too (exit 2), unless ``--allow-unaudited``: a sandbox that reaches the package
index but not the service would otherwise pass an audit that checked nothing.
Arguments this script does not know go to pip-audit (``--vulnerability-service osv``,
``--osv-url URL``, ``--ignore-vuln ID``).

Exit: 0 clean, 1 a fixable vulnerability, 2 pip-audit failed or a package went unaudited.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXABLE, UNAUDITED = 1, 2


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    id: str
    fixed_in: tuple[str, ...]


@dataclass
class Verdict:
    fixable: list[Finding] = field(default_factory=list)
    unfixed: list[Finding] = field(default_factory=list)
    unaudited: dict[str, str] = field(default_factory=dict)  # package -> pip-audit's reason
    audited: int = 0

    def exit_code(self, allow_unaudited: bool) -> int:
        if self.fixable:
            return FIXABLE
        if self.unaudited and not allow_unaudited:
            return UNAUDITED
        return 0


def judge(report: dict[str, Any]) -> Verdict:
    """Sort pip-audit's JSON report (``-f json``) into fixable, unfixed and unaudited."""
    verdict = Verdict()
    for dependency in report["dependencies"]:
        name = dependency["name"]
        if "skip_reason" in dependency:
            verdict.unaudited[name] = dependency["skip_reason"]
            continue
        verdict.audited += 1
        for vuln in dependency.get("vulns", []):
            finding = Finding(name, dependency["version"], vuln["id"], tuple(vuln["fix_versions"]))
            (verdict.fixable if finding.fixed_in else verdict.unfixed).append(finding)
    return verdict


def run_pip_audit(locks: list[Path], extra: list[str]) -> dict[str, Any]:
    """pip-audit over the locks as they are: no resolution, every pin checked by hash."""
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "audit.json"
        command = [sys.executable, "-m", "pip_audit", "--disable-pip", "--require-hashes"]
        command += [arg for lock in locks for arg in ("-r", str(lock))]
        command += ["--progress-spinner", "off", "-f", "json", "-o", str(output), *extra]
        finished = subprocess.run(command, check=False)
        # 0: nothing found, 1: something found; anything else, or no report, is a failure.
        if finished.returncode not in (0, 1) or not output.exists():
            raise RuntimeError(f"pip-audit failed (exit {finished.returncode})")
        report: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
        return report


def report_lines(verdict: Verdict, allow_unaudited: bool) -> list[str]:
    lines = [f"audited {verdict.audited} pinned packages"]
    for finding in verdict.fixable:
        lines.append(
            f"FIXABLE  {finding.package} {finding.version}: {finding.id}, fixed in "
            f"{', '.join(finding.fixed_in)}; move the pin: "
            f'make lock LOCK_FLAGS="--upgrade-package {finding.package}"'
        )
    for finding in verdict.unfixed:
        lines.append(f"no fix   {finding.package} {finding.version}: {finding.id} (not failing)")
    if verdict.unaudited:
        what = "allowed" if allow_unaudited else "failing; --allow-unaudited to pass"
        lines.append(
            f"NOT AUDITED ({what}): {len(verdict.unaudited)} packages the vulnerability "
            f"service did not answer for: {', '.join(sorted(verdict.unaudited))}"
        )
        lines.append(f"  first reason: {next(iter(verdict.unaudited.values()))}")
    if verdict.audited and not (verdict.fixable or verdict.unfixed):
        lines.append("no known vulnerability in what was audited")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="pip-audit the locks; fail on a vulnerability with a fixed version.",
        epilog="other arguments go to pip-audit, e.g. --vulnerability-service osv",
    )
    parser.add_argument("locks", nargs="+", type=Path, help="hash-pinned requirements files")
    parser.add_argument(
        "--allow-unaudited",
        action="store_true",
        help="pass even if the vulnerability service answered for no package",
    )
    args, extra = parser.parse_known_args(argv)
    try:
        verdict = judge(run_pip_audit(args.locks, extra))
    except (RuntimeError, ValueError, KeyError) as exc:
        print(f"audit: {exc}", file=sys.stderr)
        return UNAUDITED
    for line in report_lines(verdict, args.allow_unaudited):
        print(f"audit: {line}")
    return verdict.exit_code(args.allow_unaudited)


if __name__ == "__main__":
    raise SystemExit(main())
