"""One compiler, pinned once: Hardhat compiles offline with the same npm solc as py-solc-x."""

from __future__ import annotations

import json
import os
import subprocess

from api.chain import compiler
from api.settings import PROJECT_ROOT


def test_hardhat_compiles_offline_with_the_pinned_npm_compiler(compiled: dict) -> None:
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
    result = subprocess.run(
        [str(PROJECT_ROOT / "node_modules" / ".bin" / "hardhat"), "compile", "--quiet"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    build_info_dir = PROJECT_ROOT / "build" / "hardhat" / "artifacts" / "build-info"
    versions = {json.loads(p.read_text())["solcVersion"] for p in build_info_dir.glob("*.json")}
    assert versions == {compiler.compiler_version()}
    artifact = json.loads(
        (
            PROJECT_ROOT / "build/hardhat/artifacts/contracts/CRDAToken.sol/CRDAToken.json"
        ).read_text()
    )
    assert artifact["abi"] == compiled["contracts"]["CRDAToken"]["abi"]


def test_solc_executable_speaks_the_cli_py_solc_x_expects() -> None:
    solc = str(compiler.SOLC_EXECUTABLE)
    version = subprocess.run([solc, "--version"], capture_output=True, text=True, check=True)
    assert f"Version: {compiler.compiler_version()}+commit" in version.stdout
    help_text = subprocess.run([solc, "--help"], capture_output=True, text=True, check=True)
    assert any(line.startswith("  --combined-json") for line in help_text.stdout.splitlines())
