"""The forge invariant tests (tests/contracts/invariants) pass in a bounded run.

``make test`` runs forge's ``ci`` profile (few runs, shallow depth: seconds once compiled);
``make invariants`` runs the default profile, at least 10,000 calls per invariant. forge comes
from npm (``@foundry-rs/forge``, pinned in package.json) and compiles offline with the one pinned
compiler through ``scripts/solc`` (see foundry.toml).
"""

from __future__ import annotations

import os
import re
import subprocess

from api.settings import PROJECT_ROOT

FORGE = PROJECT_ROOT / "node_modules" / ".bin" / "forge"
INVARIANTS = {
    "invariant_creditSupplyIsTheSumOfBalances",
    "invariant_wonSupplyIsTheSumOfBalances",
    "invariant_onlyVerifiedAddressesHold",
    "invariant_noFillBeyondItsOrder",
    "invariant_settlementConservesWonAndGrams",
    "invariant_aBatchIdMintsOnce",
}


def test_forge_invariants_hold_in_a_bounded_run() -> None:
    assert FORGE.exists(), "forge is missing: run `make install` (npm @foundry-rs/forge)"
    env = {**os.environ, "FOUNDRY_PROFILE": "ci", "NO_COLOR": "1"}
    result = subprocess.run(
        [str(FORGE), "test", "--root", str(PROJECT_ROOT)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    passed = dict(re.findall(r"\[PASS\] (invariant_\w+)\(\) \(runs: \d+, calls: (\d+)", output))
    assert set(passed) == INVARIANTS, output
    assert all(int(calls) > 0 for calls in passed.values()), output
