"""Contract coverage for the test suite: statements, branches and functions of the Solidity sources.

`ape test --contract-coverage` (embedded chain) records, inside py-evm, every program counter the
EVM executes and where each conditional jump went (`recorder`). At the end of the session the
project is compiled once more through ape-solidity's own standard-json input, with the outputs the
build does not ask for (runtime source maps, immutable references, AST) (`build`); the bytecode is
the build's, byte for byte. Executed instructions are mapped through the source maps onto the AST's
statements, branches and functions (`analysis`), printed as a table and written as lcov and JSON
under `.build/coverage/` (`report`).
"""
