"""This checkout's compiler link, and compiled contracts that match their sources.

**Compiler.** py-solc-x (behind ape-solidity) finds `solc-v<version>` in `$SOLCX_BINARY_PATH`, or
in the user-global `~/.solcx` when it is unset. The project keeps its own folder, `.solcx/` in the
checkout, holding a link to this checkout's `tools/solc-adapter.js`, and names it in
`SOLCX_BINARY_PATH` wherever it runs ape (Makefile, tools/setup.sh, the tests): so a second
checkout or a CI clone never re-points another's compiler, and deleting a checkout leaves no
dangling link behind. `use_project_solc()` sets both up.

**Stale bytecode.** Ape compiles again only the sources whose own text changed since the last
compile (`.build/__local__.json` keeps each source's text). A contract that imports a changed
file is not compiled again, so it keeps bytecode built from the old import (a library's internal
functions, a contract it deploys with `new`, the metadata hash of every imported file). `refresh()`
records, per source, a digest of the source and every file it imports, directly or not
(`.build/import-closures.json`), and compiles again every source whose digest changed, then
whatever ape finds changed itself.

    python tools/fresh_build.py      # what `make setup` runs; the tests run `refresh()` at start
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ROOT / "contracts"
STAMP = ROOT / ".build" / "import-closures.json"
SOLC_DIR = ROOT / ".solcx"
ADAPTER = ROOT / "tools" / "solc-adapter.js"
_IMPORT = re.compile(r"""^\s*import\s+(?:[^"';]*?\bfrom\s+)?["']([^"']+)["']""", re.MULTILINE)


def solc_version() -> str:
    """The solidity version ape-config.yaml pins."""
    text = (ROOT / "ape-config.yaml").read_text(encoding="utf-8")
    found = re.search(r"^solidity:\s*\n(?:[ \t]+.*\n)*?[ \t]+version:\s*([0-9.]+)", text, re.M)
    if found is None:
        raise SystemExit("fresh_build: ape-config.yaml pins no solidity version")
    return found.group(1)


def use_project_solc() -> Path:
    """Links `.solcx/solc-v<version>` to this checkout's adapter (if not yet) and sets
    `SOLCX_BINARY_PATH` to `.solcx` for this process and its children. Returns the link."""
    SOLC_DIR.mkdir(exist_ok=True)
    link = SOLC_DIR / f"solc-v{solc_version()}"
    if not link.is_symlink() or os.readlink(link) != str(ADAPTER):
        tmp = link.with_name(f"{link.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(ADAPTER)
        tmp.replace(link)  # NOTE: atomic: a parallel test session never sees no link
    os.environ["SOLCX_BINARY_PATH"] = str(SOLC_DIR)
    return link


def local_imports(path: Path) -> list[Path]:
    """The files of this project that `path` imports by a relative path."""
    text = path.read_text(encoding="utf-8")
    return [(path.parent / found).resolve() for found in _IMPORT.findall(text)
            if found.startswith(".")]  # fmt: skip


def closure_digests(root: Path = CONTRACTS, base: Path = ROOT) -> dict[str, str]:
    """source id (e.g. `contracts/WorkerVoting.sol`) -> sha256 over the source and every local
    file it imports, directly or not (dependencies in hidden folders such as `.cache` are
    pinned packages, not sources)."""
    sources = sorted(
        p
        for p in root.rglob("*.sol")
        if not any(x.startswith(".") for x in p.relative_to(root).parts)
    )
    digests = {}
    for source in sources:
        seen: set[Path] = set()
        todo = [source.resolve()]
        while todo:
            path = todo.pop()
            if path in seen or not path.is_file():
                continue
            seen.add(path)
            todo.extend(local_imports(path))
        digest = hashlib.sha256()
        for path in sorted(seen):
            digest.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes() + b"\0")
        digests[str(source.relative_to(base))] = digest.hexdigest()
    return digests


def stale_sources(digests: dict[str, str], recorded: dict[str, str] | None) -> list[str]:
    """Sources to compile again: every one whose closure changed (all, without a record)."""
    if recorded is None:
        return sorted(digests)
    return sorted(s for s, d in digests.items() if recorded.get(s) != d)


def own_digests(root: Path = CONTRACTS, base: Path = ROOT) -> dict[str, str]:
    """source id -> sha256 of the source's own text."""
    return {sid: hashlib.sha256((base / sid).read_bytes()).hexdigest()
            for sid in closure_digests(root, base)}  # fmt: skip


def refresh(project=None, root: Path = ROOT, log=print) -> list[str]:
    """Lets ape compile what changed, then compiles again the sources whose own text is as at the
    last refresh but an import (direct or not) changed: ape would keep their old bytecode.

    Args:
        project: The Ape project (default: `ape.project`, the current directory's).
        root: Its folder (sources in `root/contracts`, the record in `root/.build`).

    Returns:
        The sources compiled again because an import changed.
    """
    if project is None:
        from ape import project
    stamp, local = root / STAMP.relative_to(ROOT), root / ".build" / "__local__.json"
    closures = closure_digests(root / "contracts", root)
    own = own_digests(root / "contracts", root)
    recorded = json.loads(stamp.read_text()) if stamp.is_file() else None
    if recorded is None and local.is_file():
        # NOTE: compiled before, without a record: it cannot tell what is stale; all, once.
        stale = sorted(closures)
    else:
        before = recorded or {"closure": closures, "own": own}
        stale = [s for s in stale_sources(closures, before["closure"])
                 if before["own"].get(s) == own[s]]  # fmt: skip
    project.load_contracts()  # NOTE: ape compiles the sources whose own text changed
    if stale:
        log(f"fresh_build: compiling again (an import changed): {', '.join(stale)}")
        project.load_contracts(*stale, use_cache=False)
    stamp.parent.mkdir(exist_ok=True)
    stamp.write_text(json.dumps({"closure": closures, "own": own}, indent=1, sort_keys=True))
    return stale


if __name__ == "__main__":
    os.chdir(ROOT)
    use_project_solc()
    refresh()
    sys.exit(0)
