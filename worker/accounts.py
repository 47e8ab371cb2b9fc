"""The worker's signing account: any Ape account, found by its alias.

`chain.account` is the alias of an account of any Ape account plugin: a keystore account
(`ape accounts import`), a hardware wallet (ape-ledger, ape-trezor), a cloud key (ape-aws KMS) or
any other. The worker only asks it to sign transactions (`AccountAPI.sign_transaction`), so it
never needs to know which kind it is. Keystore accounts are unlocked at start with the
passphrase from `chain.passphrase_file` (mode 0600 or stricter), else the environment variable
`chain.passphrase_env`, else a hidden prompt on a terminal; other kinds bring their own unlocking
(a device, a cloud role). On local development chains (chain id 31337 or 1337) `TEST::<n>`
selects Ape's test account n.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from worker.config import ChainConfig
from worker.errors import StartupError

LOCAL_CHAIN_IDS = frozenset({31337, 1337})
TEST_PREFIX = "TEST::"
log = logging.getLogger(__name__)


def load_account(
    config: ChainConfig,
    chain_id: int,
    prompt: Callable[[str], str] | None = None,
    unlock: bool = True,
) -> Any:
    """The configured account, ready to sign (`unlock=False`: locked, for its address only).

    Raises:
        StartupError: unknown alias, a test account off a local chain, a keystore account
            without a passphrase source, or a wrong passphrase.
        ConfigError: `chain.passphrase_file` is missing, empty or readable by group or others.
    """
    from ape import accounts

    alias = config.account
    if alias.startswith(TEST_PREFIX):
        if chain_id not in LOCAL_CHAIN_IDS:
            raise StartupError(
                f"chain.account {alias}",
                f"test accounts are for local chains only, this is chain id {chain_id}",
            )
        try:
            return accounts.test_accounts[int(alias[len(TEST_PREFIX) :])]
        except (ValueError, IndexError) as exc:
            raise StartupError(f"chain.account {alias}", "no such test account") from exc
    try:
        account = accounts.load(alias)
    except (KeyError, ValueError) as exc:
        raise StartupError(
            f"chain.account {alias}", "no account of an installed account plugin has this alias",
            "list them with `ape accounts list --all`, import one with `ape accounts import`",
        ) from exc  # fmt: skip
    if not _is_keystore(account):
        log.info("account %s is a %s: it signs by itself", alias, type(account).__name__)
        return account
    if not unlock:
        return account  # NOTE: a keystore account's address comes from its file, unencrypted
    passphrase = config.read_passphrase()
    if passphrase is None:
        if prompt is None and not sys.stdin.isatty():
            raise StartupError(
                f"chain.account {alias}",
                f"no chain.passphrase_file, environment variable {config.passphrase_env} is not "
                "set and there is no terminal to ask for the passphrase",
            )
        ask = prompt or _hidden_prompt
        passphrase = ask(f"Passphrase of account {alias}")
    try:
        account.set_autosign(True, passphrase=passphrase)
    except Exception as exc:  # NOTE: Ape raises InvalidPasswordError or AccountsError
        source = (f"the file {config.passphrase_file}" if config.passphrase_file
                  else f"the environment variable {config.passphrase_env}")  # fmt: skip
        raise StartupError(f"chain.account {alias}", "wrong passphrase", f"check {source}") from exc
    log.info("account %s (%s) unlocked for signing", alias, account.address)
    return account


def _is_keystore(account: Any) -> bool:
    from ape_accounts import KeyfileAccount

    return isinstance(account, KeyfileAccount)


def _hidden_prompt(text: str) -> str:
    import click

    return click.prompt(text, hide_input=True)
