"""Compile the contracts with the one pinned compiler: npm's ``solc`` (wasm) via py-solc-x.

``scripts/solc`` is a small executable that speaks solc's command line on top of the npm
package, so py-solc-x, Hardhat and slither all use the version pinned in package.json. Output
is cached in one JSON file keyed by a digest of the sources and the compiler version, so a
second build with nothing changed costs one hash of the sources.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import solcx

from api.settings import PROJECT_ROOT

SOLC_EXECUTABLE = PROJECT_ROOT / "scripts" / "solc"
SOLC_PACKAGE = PROJECT_ROOT / "node_modules" / "solc" / "package.json"
# OpenZeppelin contracts deployed as they are, compiled from node_modules with ours (the
# timelock that holds every contract's admin role).
LIBRARY_SOURCES: tuple[str, ...] = (
    "node_modules/@openzeppelin/contracts/governance/TimelockController.sol",
)
# Keep in step with hardhat.config.js (EVM_VERSION).
EVM_VERSION = "cancun"
OPTIMIZER_RUNS = 200


class CompilationError(RuntimeError):
    """The compiler refused the sources; the message carries its formatted errors."""


def compiler_version() -> str:
    if not SOLC_PACKAGE.exists():
        raise CompilationError(
            f"{SOLC_PACKAGE} is missing: run `npm ci` (or `make install`) to get the compiler"
        )
    version: str = json.loads(SOLC_PACKAGE.read_text())["version"]
    return version


def _source_files(contracts_dir: Path) -> list[Path]:
    return sorted(p for p in contracts_dir.rglob("*.sol") if p.is_file())


def _library_sources() -> dict[str, str]:
    return {name: (PROJECT_ROOT / name).read_text() for name in LIBRARY_SOURCES}


def sources_digest(contracts_dir: Path) -> str:
    digest = hashlib.sha256(f"solc {compiler_version()} evm {EVM_VERSION}".encode())
    for path in _source_files(contracts_dir):
        digest.update(str(path.relative_to(contracts_dir)).encode())
        digest.update(path.read_bytes())
    for name, content in _library_sources().items():
        digest.update(name.encode())
        digest.update(content.encode())
    return digest.hexdigest()


def _standard_input(contracts_dir: Path) -> dict[str, Any]:
    sources = {
        str(path.relative_to(PROJECT_ROOT)): {"content": path.read_text()}
        for path in _source_files(contracts_dir)
    }
    sources.update({name: {"content": text} for name, text in _library_sources().items()})
    return {
        "language": "Solidity",
        "sources": sources,
        "settings": {
            "remappings": ["@openzeppelin/=node_modules/@openzeppelin/"],
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "evmVersion": EVM_VERSION,
            "outputSelection": {
                "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
            },
        },
    }


def compile_contracts(
    contracts_dir: Path, out_path: Path, *, force: bool = False
) -> dict[str, Any]:
    """Compile every ``.sol`` under ``contracts_dir`` into ``out_path`` unless it is current."""
    digest = sources_digest(contracts_dir)
    if not force and out_path.exists():
        cached: dict[str, Any] = json.loads(out_path.read_text())
        if cached.get("digest") == digest:
            return cached
    try:
        output = solcx.compile_standard(
            _standard_input(contracts_dir),
            solc_binary=SOLC_EXECUTABLE,
            base_path=str(PROJECT_ROOT),
            allow_empty=True,
        )
    except solcx.exceptions.SolcError as exc:
        raise CompilationError(str(exc)) from exc
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompilationError("\n".join(e.get("formattedMessage", str(e)) for e in errors))
    own_prefix = str(contracts_dir.relative_to(PROJECT_ROOT))
    contracts: dict[str, Any] = {}
    for source, by_name in output["contracts"].items():
        if not source.startswith(own_prefix) and source not in LIBRARY_SOURCES:
            continue
        for name, compiled in by_name.items():
            if name in contracts:
                raise CompilationError(f"two contracts are named {name}: rename one")
            contracts[name] = {
                "source": source,
                "abi": compiled["abi"],
                "bytecode": "0x" + compiled["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
            }
    result = {
        "compiler": compiler_version(),
        "evmVersion": EVM_VERSION,
        "digest": digest,
        "contracts": contracts,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # A name of this process's own: two test runs may compile into one checkout at once.
    tmp = out_path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(result, indent=1, sort_keys=True))
    tmp.replace(out_path)
    return result
