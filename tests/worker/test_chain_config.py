"""The `chain` section's RPC endpoints and secrets: `chain.rpc`, `chain.passphrase_file`, account
types (`worker.accounts`)."""

import os

import pytest

from tests.worker.test_config import MINIMAL, clean_env, with_change, write  # noqa: F401
from worker.accounts import load_account
from worker.config import load_config
from worker.errors import ConfigError, StartupError


@pytest.mark.parametrize(
    ("rpc", "field", "reason"),
    [
        (["ws://127.0.0.1:8546"], "chain.rpc[0]", "scheme http or https"),
        (["http://a:8545", "https://"], "chain.rpc[1]", "and a host"),
        (["http://a:8545", "http://a:8545"], "chain.rpc", "lists an endpoint twice"),
        ("http://a:8545", "chain.rpc", "must be a list"),
    ],
)
def test_rpc__bad_endpoints_are_named(tmp_path, rpc, field, reason):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, with_change("chain.rpc", rpc)))
    assert info.value.field == field and reason in info.value.reason


def test_rpc__list_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKER_CHAIN__RPC", '["http://a:8545", "https://b.example/key"]')
    monkeypatch.setenv("WORKER_CHAIN__RPC_MAX_LAG", "3")
    chain = load_config(write(tmp_path, MINIMAL)).chain
    assert chain.rpc == ["http://a:8545", "https://b.example/key"] and chain.rpc_max_lag == 3


def secret(tmp_path, text="s3cret phrase\n", mode=0o600):
    path = tmp_path / "passphrase"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_passphrase_file__read_relative_to_the_config_and_wins_over_the_env(tmp_path, monkeypatch):
    secret(tmp_path)
    monkeypatch.setenv("WORKER_PASSPHRASE", "from the environment")
    chain = load_config(write(tmp_path, with_change("chain.passphrase_file", "passphrase"))).chain
    assert chain.passphrase_file == tmp_path / "passphrase"
    assert chain.read_passphrase() == "s3cret phrase"  # the final line break is not part of it


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_passphrase_file__readable_by_others_is_refused(tmp_path, mode):
    path = secret(tmp_path, mode=mode)
    chain = load_config(write(tmp_path, with_change("chain.passphrase_file", str(path)))).chain
    with pytest.raises(ConfigError) as info:
        chain.read_passphrase()
    assert info.value.field == "chain.passphrase_file"
    assert f"readable by group or others (mode {mode:04o})" in info.value.reason
    assert f"chmod 600 {path}" in info.value.reason


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: None, "cannot read"),
        (lambda p: secret(p, text="\n"), "is empty"),
        (lambda p: p.joinpath("passphrase").mkdir(), "not a regular file"),
    ],
)
def test_passphrase_file__missing_empty_or_not_a_file(tmp_path, make, reason):
    make(tmp_path)
    chain = load_config(write(tmp_path, with_change("chain.passphrase_file", "passphrase"))).chain
    with pytest.raises(ConfigError, match=reason):
        chain.read_passphrase()


@pytest.fixture
def keystore_account(tmp_path, monkeypatch):
    """A real keystore account (encrypted with "right passphrase") in a folder of the test,
    found by `ape.accounts.load` under its alias."""
    import json

    from ape import accounts as ape_accounts
    from ape_accounts import KeyfileAccount
    from eth_account import Account

    key = Account.create()
    keyfile = tmp_path / "keys" / "operator-key.json"
    keyfile.parent.mkdir()
    keyfile.write_text(json.dumps(Account.encrypt(key.key, "right passphrase")))
    account = KeyfileAccount(keyfile_path=keyfile)
    monkeypatch.setitem(ape_accounts._alias_to_account_cache, account.alias, account)
    return account


def test_load_account__keystore_unlocked_with_the_passphrase_file(tmp_path, keystore_account):
    path = secret(tmp_path, "right passphrase\n")
    data = with_change("chain.account", keystore_account.alias)
    data["chain"]["passphrase_file"] = str(path)
    chain = load_config(write(tmp_path, data)).chain

    account = load_account(chain, 73799)
    assert account is keystore_account and account.locked is False
    path.write_text("wrong\n")
    with pytest.raises(StartupError, match="wrong passphrase"):
        load_account(chain, 73799)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="readable by group or others"):
        load_account(chain, 73799)


def test_load_account__keystore_without_any_passphrase_source(tmp_path, keystore_account):
    chain = load_config(write(tmp_path, with_change("chain.account", keystore_account.alias))).chain
    with pytest.raises(StartupError, match=r"no chain\.passphrase_file, environment variable"):
        load_account(chain, 73799)


def test_load_account__unknown_alias_names_every_account_type(tmp_path):
    chain = load_config(write(tmp_path, with_change("chain.account", "nobody-here"))).chain
    with pytest.raises(StartupError, match="no account of an installed account plugin"):
        load_account(chain, 31337)


def test_load_account__other_account_types_need_no_passphrase(tmp_path, accounts, monkeypatch):
    from ape import accounts as ape_accounts

    plugin_account = accounts[7]  # NOTE: not a keystore account: it signs by itself
    monkeypatch.setitem(ape_accounts._alias_to_account_cache, "hardware-key", plugin_account)
    chain = load_config(write(tmp_path, with_change("chain.account", "hardware-key"))).chain
    assert load_account(chain, 246) is plugin_account  # no passphrase source, no prompt


def test_build_info__revision_of_the_checkout():
    import subprocess

    from worker.build_info import revision

    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    assert revision() == head
