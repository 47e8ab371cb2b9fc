"""Writes the ABIs the worker ships (worker/abi/*.json) from the compiled project (.build).

Run after changing a contract's interface: `.venv/bin/ape compile && .venv/bin/python
tools/export_abi.py`. tests/worker/test_chain.py fails while the shipped ABIs differ from the build.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ("WorkerVoting", "WorkerRewards")


def shipped_abi(name: str) -> dict:
    """The ABI document the worker ships for contract `name`, built from .build/__local__.json:
    the ABI and the NatSpec (`devdoc`, `userdoc`) of every function, event and error."""
    built = json.loads((ROOT / ".build" / "__local__.json").read_text(encoding="utf8"))
    contract = built["contractTypes"][name]
    return {"contractName": name, "abi": contract["abi"], "devdoc": contract.get("devdoc", {}),
            "userdoc": contract.get("userdoc", {})}  # fmt: skip


def main() -> int:
    for name in CONTRACTS:
        path = ROOT / "worker" / "abi" / f"{name}.json"
        path.write_text(json.dumps(shipped_abi(name), indent=1, sort_keys=True), encoding="utf8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
