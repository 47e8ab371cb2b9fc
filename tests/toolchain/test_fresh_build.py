"""tools/fresh_build.py: this checkout's compiler link, and no stale bytecode after an import
changed."""

import os
import textwrap
from pathlib import Path

from tools import fresh_build
from tools.fresh_build import ROOT, closure_digests, refresh, stale_sources, use_project_solc

LIB = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
library Lib {{ function value() internal pure returns (uint256) {{ return {value}; }} }}
"""
USER = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
import {{Lib}} from "./lib/Lib.sol";
contract User {{ function get() external pure returns (uint256) {{ return Lib.value(){extra}; }} }}
"""
OTHER = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract Other { function get() external pure returns (uint256) { return 7; } }
"""


def tree(root: Path, value: int = 1) -> Path:
    (root / "contracts" / "lib").mkdir(parents=True, exist_ok=True)
    (root / "contracts" / "lib" / "Lib.sol").write_text(LIB.format(value=value))
    (root / "contracts" / "User.sol").write_text(USER.format(extra=""))
    (root / "contracts" / "Other.sol").write_text(OTHER)
    return root


def test_closure__a_changed_import_makes_its_importers_stale(tmp_path):
    before = closure_digests(tree(tmp_path) / "contracts", tmp_path)
    assert sorted(before) == ["contracts/Other.sol", "contracts/User.sol", "contracts/lib/Lib.sol"]
    after = closure_digests(tree(tmp_path, value=2) / "contracts", tmp_path)
    assert stale_sources(after, before) == ["contracts/User.sol", "contracts/lib/Lib.sol"]
    assert stale_sources(after, after) == []
    assert stale_sources(after, None) == sorted(after)  # no record: everything


def test_use_project_solc__links_inside_the_checkout_only():
    home_link = Path.home() / ".solcx" / f"solc-v{fresh_build.solc_version()}"
    home_before = os.readlink(home_link) if home_link.is_symlink() else None
    link = use_project_solc()
    from solcx.install import get_solcx_install_folder

    assert link == ROOT / ".solcx" / "solc-v0.8.28"
    assert os.readlink(link) == str(ROOT / "tools" / "solc-adapter.js")
    assert get_solcx_install_folder() == ROOT / ".solcx"
    assert (os.readlink(home_link) if home_link.is_symlink() else None) == home_before


def runtime(project, name: str) -> str:
    return project.load_contracts()[name].contract_type.runtime_bytecode.bytecode


def test_refresh__compiles_again_the_importer_of_a_changed_library(tmp_path):
    from ape import Project

    root = tree(tmp_path)
    (root / "ape-config.yaml").write_text(
        textwrap.dedent("""\
        name: fresh-build-test
        solidity:
          version: 0.8.28
          evm_version: london
    """)
    )
    project = Project(root)
    assert refresh(project, root, log=lambda _: None) == []  # first compile: ape compiles all
    first = runtime(project, "User")

    (root / "contracts" / "lib" / "Lib.sol").write_text(LIB.format(value=2))
    assert runtime(project, "User") == first  # ape alone: the importer keeps its old bytecode
    stale = refresh(project, root, log=lambda _: None)
    assert stale == ["contracts/User.sol"]  # the library itself: ape compiled it
    assert runtime(project, "User") != first
    assert refresh(project, root, log=lambda _: None) == []
