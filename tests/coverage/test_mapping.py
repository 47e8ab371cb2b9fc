"""The coverage tool itself: executions known by construction land on the right source items."""

from pathlib import Path

import ape
import pytest
from eth_utils import keccak

from tests.conftest import ZERO_ADDRESS, event_descriptor
from tests.coverage import build, recorder
from tests.coverage.analysis import Coverage, analyse

A = keccak(text="root A")
DAY = 86_400
ROUND = event_descriptor("r")
REGISTRATION_WINDOW = 3 * 3600  # longer than the voting contracts' maxWindow (2 h)


@pytest.fixture(autouse=True)
def _embedded_chain(chain):
    if chain.provider.name != "test":
        pytest.skip("executions are recorded inside the embedded EVM (py-evm) only")


@pytest.fixture(scope="module")
def compiled(project):
    output = build.compile_project(project)
    return build.codes(output), build.sources(output, Path(project.path))


def measure(compiled, records) -> Coverage:
    codes, files = compiled
    return analyse(records, codes, files)


def line_of(path: str, text: str, after: str = "") -> int:
    source = Path(path).read_text()
    start = source.index(after) if after else 0
    return source[: source.index(text, start)].count("\n") + 1


def branch(cov: Coverage, path: str, line: int) -> dict[str, bool]:
    fc = next(f for f in cov.files if f.source.path == path)
    return {s.side: s.covered for s in fc.branches if s.branch.line == line}


def function(cov: Coverage, name: str) -> bool:
    return next(c for f in cov.files for i, c in f.functions if i.name == name)


def test_source_map__compressed_fields_repeat_the_previous_entry():
    assert build.decode_source_map("1:2:0:-:0;;3;:4;::1") == [
        (1, 2, 0), (1, 2, 0), (3, 2, 0), (3, 4, 0), (3, 4, 1),
    ]  # fmt: skip


def test_revert_path__covers_its_side_only(compiled, create_voting):
    net = create_voting("2/3")
    with recorder.separate() as records, ape.reverts(net.voting.VotingNoSuchEntry):
        net.voting.chainEntry(0)
    cov = measure(compiled, records)
    line = line_of("contracts/VotingState.sol", "if (index >= length)", "function chainEntry")
    assert branch(cov, "contracts/VotingState.sol", line) == {"true": True, "false": False}
    assert function(cov, "VotingState.chainEntry")
    assert not function(cov, "VotingState.settledRound")
    assert not function(cov, "WorkerVoting.openAndVote")


def test_passing_path__covers_the_other_side(compiled, create_voting):
    net = create_voting("1/1")
    net.voting.openAndVote(ROUND, A, sender=net.workers[0])
    with recorder.separate() as records:
        net.voting.chainEntry(0)
    cov = measure(compiled, records)
    line = line_of("contracts/VotingState.sol", "if (index >= length)", "function chainEntry")
    assert branch(cov, "contracts/VotingState.sol", line) == {"true": False, "false": True}


def test_early_return_without_code__sides_told_apart(compiled, project, owner, create_voting,
                                                      chain):  # fmt: skip
    """`if (amount == 0) return;` has no code of its own: the jump to the exit is the true side."""
    net = create_voting("1/1")
    args = (owner, net.voting, ZERO_ADDRESS, REGISTRATION_WINDOW, 30 * DAY, [2500] * 4)
    unfunded, funded = (owner.deploy(project.WorkerRewards, *args) for _ in range(2))
    funded.fund(0, 10**18, value=10**18, sender=owner)
    net.voting.openAndVote(ROUND, A, sender=net.workers[0])
    ends, closes = funded.epochTimes(0)[1:]
    chain.pending_timestamp = ends + 1
    for rewards in (unfunded, funded):
        rewards.register(0, net.workers[0], 100, sender=owner)
    chain.pending_timestamp = closes + 1  # the registration window has closed
    chain.mine()
    line = line_of("contracts/WorkerRewards.sol", "if (amount == 0) return;")
    sides = []
    for rewards in (unfunded, funded):
        with recorder.separate() as records:  # a runtime code with immutables, deployed twice
            rewards.claim(0, net.workers[0], sender=owner)
        sides.append(branch(measure(compiled, records), "contracts/WorkerRewards.sol", line))
    assert sides == [{"true": True, "false": False}, {"true": False, "false": True}]


def test_creation_code__constructor_covered(compiled, project, owner, create_voting):
    net = create_voting("1/1")
    with recorder.separate() as records:
        owner.deploy(project.WorkerRewards, owner, net.voting, ZERO_ADDRESS, REGISTRATION_WINDOW,
                     30 * DAY, [2500] * 4)  # fmt: skip
    cov = measure(compiled, records)
    assert function(cov, "WorkerRewards.constructor")
    assert not function(cov, "WorkerRewards.claim")


def test_delegated_module__admin_code_credited_to_its_source(compiled, create_voting, owner,
                                                              workers):  # fmt: skip
    """Pool administration runs in WorkerPoolAdmin's code through delegatecall."""
    net = create_voting("1/1")
    with recorder.separate() as records:
        net.voting.addWorker(workers[5], sender=owner)
    cov = measure(compiled, records)
    assert function(cov, "WorkerPool._delegateToAdmin")
    assert function(cov, "WorkerPoolAdmin.addWorker")
    assert not function(cov, "WorkerPoolAdmin.removeWorker")
    line = line_of("contracts/WorkerPoolAdmin.sol", "if (worker == address(0))")
    assert branch(cov, "contracts/WorkerPoolAdmin.sol", line) == {"true": False, "false": True}
