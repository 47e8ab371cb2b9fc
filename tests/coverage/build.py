"""What coverage is measured against: the compiled code with its source maps, and the AST's items.

`compile_project()` builds ape-solidity's own standard-json input for the project (same sources,
remappings, optimizer and EVM version as `ape compile`) and adds the outputs the build leaves out;
solc's bytecode does not depend on the output selection, so it equals the deployed code.
`codes()` lists every runtime and creation code with its decoded source map; `sources()` lists,
for each measured source file, its functions (and modifiers), statements and branches (`if`/`else`
and `?:`), each with its byte range in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXTRA_OUTPUTS = [
    "evm.bytecode.sourceMap",
    "evm.deployedBytecode.sourceMap",
    "evm.deployedBytecode.immutableReferences",
]
STATEMENTS = {
    "ExpressionStatement",
    "VariableDeclarationStatement",
    "Return",
    "EmitStatement",
    "RevertStatement",
    "InlineAssembly",
    "Break",
    "Continue",
}
LOOPS_AND_IFS = ("IfStatement", "ForStatement", "WhileStatement", "DoWhileStatement")
JUMP, JUMPI, JUMPDEST, PUSH1, PUSH32 = 0x56, 0x57, 0x5B, 0x60, 0x7F

Range = tuple[int, int]  # [start, end) in bytes of one source file


@dataclass
class Code:
    """One compiled bytecode (a contract's runtime or creation code) with its instruction table."""

    contract: str
    kind: str  # "runtime" | "creation"
    code: bytes
    immutables: list[Range]
    pcs: list[int] = field(default_factory=list)  # instruction start -> its program counter
    index: dict[int, int] = field(default_factory=dict)  # program counter -> instruction
    src: list[tuple[int, int, int]] = field(default_factory=list)  # (start, length, file id)

    def __post_init__(self) -> None:
        pc = 0
        while pc < len(self.code):
            self.index[pc] = len(self.pcs)
            self.pcs.append(pc)
            op = self.code[pc]
            pc += 1 + (op - PUSH1 + 1 if PUSH1 <= op <= PUSH32 else 0)

    def op(self, i: int) -> int:
        return self.code[self.pcs[i]]

    def push_value(self, i: int) -> int | None:
        """The value pushed by instruction `i`, if it is a PUSH."""
        op = self.op(i)
        if not PUSH1 <= op <= PUSH32:
            return None
        pc = self.pcs[i]
        return int.from_bytes(self.code[pc + 1 : pc + 2 + op - PUSH1], "big")


@dataclass
class Branch:
    """A two-way decision: `if` (with or without `else`) or the conditional operator."""

    file: int
    line: int
    kind: str  # "if" | "?:"
    scope: Range  # the whole statement or expression
    true: Range
    false: Range | None  # None: an `if` without `else`


@dataclass
class Item:
    file: int
    line: int
    kind: str  # "function" | "statement"
    name: str
    span: Range


@dataclass
class Source:
    path: str
    id: int
    text: bytes
    functions: list[Item] = field(default_factory=list)
    statements: list[Item] = field(default_factory=list)
    branches: list[Branch] = field(default_factory=list)

    def line(self, offset: int) -> int:
        return self.text.count(b"\n", 0, offset) + 1


def decode_source_map(text: str) -> list[tuple[int, int, int]]:
    """solc's compressed source map -> (start, length, file id) per instruction."""
    out: list[tuple[int, int, int]] = []
    s = ln = f = 0
    for entry in text.split(";") if text else []:
        parts = entry.split(":")
        if parts[0]:
            s = int(parts[0])
        if len(parts) > 1 and parts[1]:
            ln = int(parts[1])
        if len(parts) > 2 and parts[2]:
            f = int(parts[2])
        out.append((s, ln, f))
    return out


def _span(node: dict) -> Range:
    start, length, _ = (int(x) for x in node["src"].split(":"))
    return start, start + length


def _walk(node: Any, contract: str, source: Source) -> None:
    if isinstance(node, list):
        for child in node:
            _walk(child, contract, source)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("nodeType")
    if kind == "ContractDefinition":
        contract = node["name"]
    elif kind in ("FunctionDefinition", "ModifierDefinition") and node.get("body"):
        span = _span(node)
        name = node.get("name") or node.get("kind", "function")
        source.functions.append(
            Item(source.id, source.line(span[0]), "function", f"{contract}.{name}", span)
        )
    elif kind in STATEMENTS:
        span = _span(node)
        source.statements.append(Item(source.id, source.line(span[0]), "statement", kind, span))
    elif kind in LOOPS_AND_IFS and node.get("condition"):
        # NOTE: the whole statement: its condition is evaluated whenever any of it runs (the
        # optimizer often maps the evaluation to the statement, not to the expression).
        span = _span(node)
        name = f"{kind.removesuffix('Statement').lower()} condition"
        source.statements.append(Item(source.id, source.line(span[0]), "statement", name, span))
    if kind == "IfStatement":
        false = node.get("falseBody")
        source.branches.append(Branch(
            source.id, source.line(_span(node)[0]), "if", _span(node), _span(node["trueBody"]),
            _span(false) if false else None,
        ))  # fmt: skip
    elif kind == "Conditional":
        source.branches.append(Branch(
            source.id, source.line(_span(node)[0]), "?:", _span(node),
            _span(node["trueExpression"]), _span(node["falseExpression"]),
        ))  # fmt: skip
    for key, child in node.items():
        if key != "src" and isinstance(child, (dict, list)):
            _walk(child, contract, source)


def measured(path: str) -> bool:
    """Our contracts: under contracts/, not the dependency cache, not the test doubles."""
    parts = Path(path).parts
    return parts[0] == "contracts" and ".cache" not in parts and "test" not in parts[1:-1]


def compile_project(project: Any) -> dict:
    """Compiles the project's Solidity sources as `ape compile` does, with source maps and ASTs."""
    from ape import compilers
    from packaging.version import Version
    from solcx import compile_standard
    from solcx.install import get_executable

    solidity = compilers.get_compiler("solidity")
    folder = Path(project.contracts_folder)
    paths = [p for p in folder.rglob("*.sol") if ".cache" not in p.relative_to(folder).parts]
    inputs = solidity.get_standard_input_json(paths, project=project)
    if len(inputs) != 1:
        raise RuntimeError(f"coverage expects one solc version, the project uses {list(inputs)}")
    version, standard_input = next(iter(inputs.items()))
    for selection in standard_input["settings"]["outputSelection"].values():
        selection["*"] = [*selection["*"], *EXTRA_OUTPUTS]
    clean = Version(version.base_version)
    return compile_standard(
        standard_input,
        solc_binary=get_executable(version=clean),
        solc_version=clean,
        base_path=project.path,
        allow_empty=True,
    )


def codes(output: dict) -> list[Code]:
    """Every non-empty runtime and creation code of the compiler output."""
    found: list[Code] = []
    for contracts in output.get("contracts", {}).values():
        for name, data in contracts.items():
            evm = data["evm"]
            for kind, key in (("runtime", "deployedBytecode"), ("creation", "bytecode")):
                obj = evm[key].get("object", "")
                if not obj:
                    continue
                refs = evm[key].get("immutableReferences", {})
                immutables = [(r["start"], r["start"] + r["length"]) for v in refs.values()
                              for r in v]  # fmt: skip
                code = Code(name, kind, bytes.fromhex(obj), immutables)
                code.src = decode_source_map(evm[key].get("sourceMap", ""))
                found.append(code)
    return found


def sources(output: dict, root: Path) -> dict[int, Source]:
    """The measured source files by file id, with their items."""
    found: dict[int, Source] = {}
    for path, data in output.get("sources", {}).items():
        if not measured(path):
            continue
        source = Source(path, int(data["id"]), (root / path).read_bytes())
        _walk(data["ast"], "", source)
        found[source.id] = source
    return found
