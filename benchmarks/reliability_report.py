"""Run the reliability scenarios and benchmarks; write ``docs/reliability-report.rst``.

The scenarios are the tests themselves (:data:`SUITES`): the attacks (access control,
isolation of users' copies, replays, hostile input to the Bridge and the farmers, a
hostile Bridge and hostile farmers against the SDK), fault injection, crash
consistency, safe replacement, repair and garbage collection, load, and property-based
fuzzing. They run once through pytest with a JUnit XML report, from which this script
counts what was tried, what passed, which known bugs are pinned by strict ``xfail`` tests
(with their reasons) and how many bytes were compared (the ``bytes_checked`` property the
tests record), and lists every attack tried. Then ``benchmarks/bench_repair.py`` measures
repair and garbage collection and ``benchmarks/bench_load.py`` runs against a fresh
network process (16 clients × 100 operations by default).

Usage::

    python benchmarks/reliability_report.py [--clients 16] [--ops 100] [--no-load]
        [--no-repair] [--output docs/reliability-report.rst]

Exits 1 when a scenario failed, the load saw an error or a mismatched byte, or repair did
not bring every file back byte for byte.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_load import measure  # noqa: E402
from benchmarks.bench_repair import measure as measure_repair  # noqa: E402

SUITES = {
    "Attacks: access control, replays, secrets, limits": [
        "tests/integration/test_access_control.py",
        "tests/integration/test_bridge_hostile.py",
    ],
    "Attacks: hostile input to the Bridge and farmers": [
        "tests/integration/test_bridge_input.py",
        "tests/integration/test_http_framing.py",
        "tests/integration/test_farmer_input.py",
    ],
    "Attacks: a hostile Bridge or farmer against the SDK": [
        "tests/unit/test_hostile_peers.py",
    ],
    "Durability: isolation, repair, garbage collection": [
        "tests/integration/test_durability.py",
    ],
    "Durability: replacing files": ["tests/integration/test_overwrite.py"],
    "Fault injection": ["tests/integration/test_faults.py"],
    "Crash consistency": ["tests/integration/test_crash_consistency.py"],
    "Load (small, in CI)": ["tests/integration/test_load.py"],
    "Security regressions": ["tests/integration/test_security.py"],
    "Property-based fuzzing": ["tests/fuzz"],
}
#: The suites whose every test is an attack on the network or the SDK.
ATTACK_SUITES = [name for name in SUITES if name.startswith("Attacks")] + [
    "Security regressions"
]
FAULT_COLUMNS = {
    "test_upload_completes_despite_failing_farmers": "upload recovers",
    "test_upload_to_only_failing_farmers_is_a_typed_error": "upload fails typed",
    "test_download_completes_despite_failing_farmers": "download recovers",
    "test_download_from_only_failing_farmers_is_a_typed_error": "download fails typed",
}


@dataclass
class Case:
    suite: str
    module: str
    name: str
    outcome: str  # passed, failed, xfailed, skipped
    seconds: float
    message: str = ""
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def bytes_checked(self) -> int:
        try:
            return int(self.properties.get("bytes_checked", 0))
        except ValueError:
            return 0


def suite_of(classname: str) -> str:
    path = classname.replace(".", "/")
    for suite, prefixes in SUITES.items():
        if any(path.startswith(prefix.removesuffix(".py")) for prefix in prefixes):
            return suite
    return "Other"


def run_scenarios(junit: Path) -> tuple[list[Case], float, int]:
    """Run every suite through pytest; return the cases, seconds and pytest's exit code."""
    paths = [p for prefixes in SUITES.values() for p in prefixes]
    command = [sys.executable, "-m", "pytest", *paths, "-q", "-p", "no:cacheprovider",
               f"--junitxml={junit}", "-o", "junit_family=xunit1"]
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, check=False)  # noqa: S603 - our pytest
    seconds = time.perf_counter() - started
    return parse_junit(junit), seconds, completed.returncode


def parse_junit(path: Path) -> list[Case]:
    cases = []
    for testcase in ET.parse(path).getroot().iter("testcase"):
        classname = testcase.get("classname", "")
        outcome, message = "passed", ""
        for child in testcase:
            if child.tag in ("failure", "error"):
                outcome, message = "failed", child.get("message", "")
            elif child.tag == "skipped":
                kind = child.get("type", "")
                outcome = "xfailed" if "xfail" in kind else "skipped"
                message = child.get("message", "")
        properties = {
            p.get("name", ""): p.get("value", "")
            for p in testcase.iter("property")
        }
        cases.append(Case(
            suite=suite_of(classname),
            module=classname.rsplit(".", 1)[-1],
            name=testcase.get("name", ""),
            outcome=outcome,
            seconds=float(testcase.get("time", "0") or 0),
            message=message.removeprefix("reason: "),
            properties=properties,
        ))
    return cases


# ----------------------------------------------------------------- reStructuredText


def _cell(text: object) -> str:
    return str(text).replace("\n", " ").replace("|", "/").strip() or "–"


def _plain(text: object) -> str:
    """Free text (a test's reason or message) with reStructuredText markup escaped."""
    escaped = _cell(text)
    for char in ("\\", "*", "`", "_", "|", "["):
        escaped = escaped.replace(char, "\\" + char)
    return escaped


def list_table(title: str, header: list[str], rows: list[list[object]],
               widths: list[int] | None = None) -> list[str]:
    lines = [f".. list-table:: {title}", "   :header-rows: 1"]
    if widths:
        lines.append("   :widths: " + " ".join(str(w) for w in widths))
    lines.append("")
    for row in [header, *rows]:
        first, *rest = [_cell(c) for c in row]
        lines.append(f"   * - {first}")
        lines.extend(f"     - {cell}" for cell in rest)
    lines.append("")
    return lines


def heading(text: str, mark: str) -> list[str]:
    return [text, mark * len(text), ""]


def fault_matrix(cases: list[Case]) -> list[list[object]]:
    grid: dict[str, dict[str, str]] = defaultdict(dict)
    for case in cases:
        base, _, param = case.name.partition("[")
        if base in FAULT_COLUMNS and param:
            grid[param.rstrip("]")][FAULT_COLUMNS[base]] = {
                "passed": "pass", "xfailed": "known bug", "failed": "FAIL",
            }.get(case.outcome, case.outcome)
    rows = []
    for scenario in sorted(grid):
        rows.append([f"``{scenario}``", *[grid[scenario].get(c, "n/a")
                                           for c in FAULT_COLUMNS.values()]])
    return rows


def attack_lines(cases: list[Case]) -> list[str]:
    """Every attack tried, by suite: its test, and whether it held."""
    lines = [
        "Each line is one test that attacks the network or the SDK (a parametrised test "
        "counts its cases); *held* means the attack was refused or had no effect and the "
        "data was intact.",
        "",
    ]
    for suite in ATTACK_SUITES:
        group = [c for c in cases if c.suite == suite]
        if not group:
            continue
        tests: dict[str, list[Case]] = defaultdict(list)
        for case in group:
            tests[f"{case.module}::{case.name.partition('[')[0]}"].append(case)
        lines += [f"**{suite}** ({len(group)} cases)", ""]
        for name, runs in sorted(tests.items()):
            held = sum(c.outcome == "passed" for c in runs)
            verdict = "held" if held == len(runs) else f"FAILED {len(runs) - held}"
            count = f" ×{len(runs)}" if len(runs) > 1 else ""
            lines.append(f"* ``{name}``{count}: {verdict}")
        lines.append("")
    return lines


def repair_lines(repair: dict) -> list[str]:
    lines = [
        f"``benchmarks/bench_repair.py``: {repair['files']} files of {repair['file_mib']} MiB "
        f"(Reed–Solomon on: {repair['shards']} shards) on {repair['farmers']} farmers, "
        f"{repair['copies_per_shard']} copies of every shard. Every copy one farmer held of "
        f"the first file's shards was corrupted on disk ({repair['copies_corrupted']} copies) "
        f"and another farmer holding {repair['copies_on_stopped_farmer']} copies was "
        f"stopped; the Bridge ran its maintenance pass every {repair['repair_interval']} s "
        "(audits every pass, a farmer lost as soon as it fails). Then the farmer with the "
        "corrupted copies was stopped too and every file downloaded. Garbage collection: an "
        "upload cancelled after a third of its bytes, then every file deleted.",
        "",
    ]
    lines += list_table("Repair and garbage collection", ["figure", "value"], [
        ["time to restore full redundancy", f"{repair['seconds_to_restore']} s"],
        ["copies made by repair", f"{repair['copies_made']} "
                                  f"({repair['bytes_copied']:,} bytes)"],
        ["audit after repair", f"{repair['audit_ok']} ok, {repair['audit_failed']} failed"],
        ["files downloaded byte-identical without the two farmers",
         f"{repair['downloads_identical']} of {repair['files']}"],
        ["audit failures caused by the cancelled upload's debris",
         repair["audit_failures_from_debris"]],
        ["bytes reclaimed from the cancelled upload",
         f"{repair['cancelled_upload_bytes_reclaimed']:,}"],
        ["bytes reclaimed from the deleted files",
         f"{repair['deleted_files_bytes_reclaimed']:,}"],
        ["shard files left on the farmers afterwards", repair["shard_files_left"]],
    ], widths=[55, 45])
    return lines


def render(cases: list[Case], seconds: float, load: dict | None, command: str,
           repair: dict | None = None) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    total_bytes = sum(c.bytes_checked for c in cases)
    lines = [
        ".. This file is generated by benchmarks/reliability_report.py; do not edit it.",
        "",
        *heading("Reliability report", "="),
        f"Generated {now} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, by "
        f"``{command}``. The scenarios are the tests of the suites below (slow variants "
        f"included); they ran in {seconds:.0f} s.",
        "",
        *heading("Summary", "-"),
    ]
    by_suite: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        by_suite[case.suite].append(case)
    rows = []
    for suite in [*SUITES, "Other"]:
        group = by_suite.get(suite, [])
        if not group:
            continue
        count = defaultdict(int)
        for case in group:
            count[case.outcome] += 1
        rows.append([suite, len(group), count["passed"], count["xfailed"], count["failed"],
                     count["skipped"], f"{sum(c.bytes_checked for c in group):,}"])
    totals = defaultdict(int)
    for case in cases:
        totals[case.outcome] += 1
    rows.append(["**all**", len(cases), totals["passed"], totals["xfailed"], totals["failed"],
                 totals["skipped"], f"{total_bytes:,}"])
    lines += list_table(
        "Scenarios tried",
        ["suite", "tried", "passed", "known bugs (strict xfail)", "failed", "skipped",
         "bytes compared"],
        rows,
    )
    lines += [
        "*Bytes compared* counts the bytes read back and compared with what was stored, as "
        "recorded by the tests (``bytes_checked``); fuzzing checks invariants, not bytes.",
        "",
        *heading("Farmer faults", "-"),
        "Every farmer runs behind ``storj.local.faults.FaultInjector``. *Recovers*: two "
        "requests fail, then the upload is renegotiated with other farmers (exclude list) "
        "or the download rebuilds the shards from Reed–Solomon parity, and the bytes read "
        "back are identical. *Fails typed*: every request fails and the transfer ends with "
        "``TransferError`` within a bounded time, leaving no partial file, no temporary "
        "file and no entry. After each scenario the file stored first is unchanged on the "
        "farmers' disks and no thread or file descriptor is left behind.",
        "",
    ]
    lines += list_table("Outcome per scenario", ["scenario", *FAULT_COLUMNS.values()],
                        fault_matrix(cases))
    lines += heading("Attacks tried", "-")
    lines += attack_lines(cases)
    if repair is not None:
        lines += heading("Repair and garbage collection", "-")
        lines += repair_lines(repair)
    if load is not None:
        lines += heading("Load", "-")
        lines += [
            f"``benchmarks/bench_load.py``: {load['clients']} concurrent clients × "
            f"{load['ops_per_client']} mixed operations (create bucket, upload small and "
            "medium files, list, download, delete) against one local network process "
            "(Bridge and 4 farmers) on loopback.",
            "",
        ]
        lines += list_table("Load figures", ["figure", "value"], [
            ["operations", f"{load['operations']} in {load['seconds']} s"],
            ["operations per second", load["ops_per_second"]],
            ["metadata calls p50 / p99", f"{load['metadata_p50_ms']} ms / "
                                          f"{load['metadata_p99_ms']} ms "
                                          f"({load['metadata_calls']} calls)"],
            ["errors", load["errors"]],
            ["mismatched files", load["mismatches"]],
            ["uploaded / downloaded", f"{load['mib_uploaded']} MiB / "
                                       f"{load['mib_downloaded']} MiB"],
            ["network process peak RSS", f"{load['network_peak_rss_mib']} MiB"],
            ["client process peak RSS", f"{load['client_peak_rss_mib']} MiB"],
            ["operations by kind", ", ".join(f"{k} {v}" for k, v in load["by_kind"].items())],
        ], widths=[30, 70])
    known = [c for c in cases if c.outcome == "xfailed"]
    lines += heading("Known bugs", "-")
    if known:
        lines += ["Each is pinned by a strict ``xfail`` test that starts failing (XPASS) "
                  "once the bug is fixed.", ""]
        reasons: dict[str, list[str]] = defaultdict(list)
        for case in known:
            reasons[case.message].append(f"``{case.module}::{case.name}``")
        for reason, names in reasons.items():
            lines.append(f"* {_plain(reason)} — {', '.join(names)}")
        lines.append("")
    else:
        lines += ["None.", ""]
    failed = [c for c in cases if c.outcome == "failed"]
    if failed:
        lines += heading("Failures", "-")
        lines += [f"* ``{c.module}::{c.name}``: {_plain(c.message[:300])}" for c in failed]
        lines.append("")
    return "\n".join(lines)


def check_rst(text: str) -> list[str]:
    """docutils' complaints about ``text`` (warnings and worse); [] when it is valid."""
    try:
        from docutils.core import publish_doctree
        from docutils.utils import Reporter
    except ImportError:
        return []
    problems: list[str] = []

    class Collect:
        def write(self, message: str) -> None:
            problems.append(message.strip())

    publish_doctree(text, settings_overrides={"warning_stream": Collect(),
                                              "report_level": Reporter.WARNING_LEVEL})
    return [p for p in problems if p]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--ops", type=int, default=100)
    parser.add_argument("--no-load", action="store_true", help="skip the load benchmark")
    parser.add_argument("--no-repair", action="store_true",
                        help="skip the repair and garbage collection benchmark")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "reliability-report.rst")
    args = parser.parse_args(argv)
    command = "python benchmarks/reliability_report.py" + (
        f" --clients {args.clients} --ops {args.ops}" if not args.no_load else " --no-load"
    ) + (" --no-repair" if args.no_repair else "")
    with tempfile.TemporaryDirectory() as tmp:
        cases, seconds, code = run_scenarios(Path(tmp) / "junit.xml")
    repair = None if args.no_repair else measure_repair().summary()
    load = None
    if not args.no_load:
        result = measure(args.clients, args.ops)
        load = result.summary()
    text = render(cases, seconds, load, command, repair)
    problems = check_rst(text)
    if problems:
        print("the report is not valid reStructuredText:", *problems, sep="\n  ")
        return 2
    args.output.write_text(text + "\n", encoding="utf-8")
    passed = sum(c.outcome == "passed" for c in cases)
    xfailed = sum(c.outcome == "xfailed" for c in cases)
    failed = sum(c.outcome == "failed" for c in cases)
    print(f"scenarios: {len(cases)} tried, {passed} passed, {xfailed} known bugs, "
          f"{failed} failed; {sum(c.bytes_checked for c in cases):,} bytes compared")
    if load is not None:
        print(f"load: {load['ops_per_second']} ops/s, metadata p50 {load['metadata_p50_ms']} ms,"
              f" p99 {load['metadata_p99_ms']} ms, errors {load['errors']}, mismatches "
              f"{load['mismatches']}, network peak RSS {load['network_peak_rss_mib']} MiB")
    if repair is not None:
        print(f"repair: redundancy restored in {repair['seconds_to_restore']} s, "
              f"{repair['downloads_identical']}/{repair['files']} files identical; "
              f"reclaimed {repair['deleted_files_bytes_reclaimed']:,} + "
              f"{repair['cancelled_upload_bytes_reclaimed']:,} bytes")
    print(f"wrote {args.output}")
    bad_load = load is not None and (load["errors"] or load["mismatches"])
    bad_repair = repair is not None and (
        repair["downloads_identical"] != repair["files"] or repair["audit_failed"]
    )
    return 1 if failed or code not in (0,) or bad_load or bad_repair else 0


if __name__ == "__main__":
    raise SystemExit(main())
