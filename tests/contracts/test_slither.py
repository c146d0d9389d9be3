"""Slither's high and medium findings are all triaged: a new one fails the build.

Slither (``slither-analyzer``, a dev dependency) compiles ``contracts/`` with the one pinned
compiler (``scripts/solc`` speaks standard JSON only, hence ``--solc-standard-json``; passing
``--solc`` keeps slither's own solc-select, which stalls offline, out of it) and reports in JSON.
Each high or medium finding must match an entry of ``contracts/slither-triage.toml`` that says
why it is safe, and each entry must still match a finding (a fixed finding's entry is deleted).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from api.chain import compiler
from api.settings import PROJECT_ROOT

TRIAGE = PROJECT_ROOT / "contracts" / "slither-triage.toml"
FAILING_IMPACTS = {"High", "Medium"}


def run_slither(out: Path) -> dict:
    command = [
        sys.executable,
        "-m",
        "slither",
        "contracts",
        "--solc",
        str(compiler.SOLC_EXECUTABLE),
        "--solc-standard-json",
        "--solc-remaps",
        "@openzeppelin/=node_modules/@openzeppelin/",
        "--exclude-dependencies",
        # With standard JSON slither cannot tell OpenZeppelin (audited, pinned) from our code.
        "--filter-paths",
        "node_modules/",
        "--exclude-informational",
        "--exclude-low",
        "--exclude-optimization",
        "--json",
        str(out),
    ]
    # Slither exits non-zero whenever it finds anything; the JSON says whether it ran.
    # crytic-compile finds foundry.toml and reads the remappings with `forge config`: npm's forge.
    node_bin = PROJECT_ROOT / "node_modules" / ".bin"
    env = {**os.environ, "PATH": f"{node_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert out.exists(), f"slither did not run:\n{result.stdout}\n{result.stderr}"
    report: dict = json.loads(out.read_text())
    assert report["success"], report["error"]
    return report


def finding_key(detector: dict) -> tuple[str, str, str, str]:
    """(check, contract, function, statement): stable while unrelated lines move."""
    function = next((e for e in detector["elements"] if e["type"] == "function"), None)
    node = next((e for e in detector["elements"] if e["type"] == "node"), None)
    contract = ""
    if function is not None:
        contract = function["type_specific_fields"]["parent"]["name"]
    elif detector["elements"]:
        first = detector["elements"][0]
        contract = first.get("type_specific_fields", {}).get("parent", {}).get("name", "")
        contract = contract or first["name"]
    return (
        detector["check"],
        contract,
        function["name"] if function is not None else "",
        node["name"] if node is not None else "",
    )


def test_slither_finds_no_untriaged_high_or_medium_issue(tmp_path: Path) -> None:
    triage = tomllib.loads(TRIAGE.read_text())["finding"]
    for entry in triage:
        assert len(entry.get("reason", "")) > 40, f"explain why {entry} is safe"
    triaged = {
        (e["check"], e["contract"], e.get("function", ""), e.get("statement", "")): e
        for e in triage
    }

    report = run_slither(tmp_path / "slither.json")
    detectors = report["results"].get("detectors", [])
    found = {
        finding_key(d): d["description"].strip()
        for d in detectors
        if d["impact"] in FAILING_IMPACTS
    }

    new = {key: text for key, text in found.items() if key not in triaged}
    stale = [key for key in triaged if key not in found]
    assert not new, (
        "new high/medium slither findings (fix them, or explain them in "
        + str(TRIAGE.relative_to(PROJECT_ROOT))
        + "):\n"
        + "\n".join(f"{key}: {text}" for key, text in new.items())
    )
    assert not stale, f"triage entries that match no finding any more (delete them): {stale}"
