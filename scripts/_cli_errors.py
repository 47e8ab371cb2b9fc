"""Ape's errors at the command line of `ape run deploy` and `ape run admin`, in one line each.

Keystore passphrases: Ape reads the passphrase of account `<alias>` from the environment variable
`APE_ACCOUNTS_<alias>_PASSPHRASE` (the alias exactly as imported, case included), or asks for it.
A shell cannot `export` a name with `-` (the alias `worker-1`): pass it with
`env 'APE_ACCOUNTS_worker-1_PASSPHRASE=...' ape run ...`, or import the key under an alias of
letters, digits and `_` (`ape accounts import worker_1`).
"""

import os
from typing import Any

import click


def passphrase_env(alias: str) -> str:
    """The environment variable Ape reads the passphrase of keystore account `alias` from."""
    return f"APE_ACCOUNTS_{alias}_PASSPHRASE"


def passphrase_problem(alias: str, exc: Exception) -> str:
    """One line: which passphrase failed, where it was read from, what to do."""
    variable = passphrase_env(alias)
    source = f"environment variable {variable}" if variable in os.environ else "the prompt"
    why = "wrong passphrase" if type(exc).__name__ == "InvalidPasswordError" else str(exc)
    hint = ""
    if not variable.replace("_", "").isalnum():
        hint = (f"; the alias {alias!r} has characters a shell variable name cannot hold: set it "
                f"with `env '{variable}=...' ape run ...`, or re-import the key under an alias "
                "of letters, digits and '_'")  # fmt: skip
    return f"account {alias}: {why} (read from {source}){hint}"


class ScriptGroup(click.Group):
    """The `deploy` and `admin` groups: Ape's errors at the command line in one line each.

    A network choice without its ecosystem (`volta`) names the one meant (`energyweb:volta`);
    a node of another chain than the network's, a wrong keystore passphrase and other Ape errors
    end in one line instead of a traceback; a declined confirmation says how to skip it.
    """

    def invoke(self, ctx: click.Context) -> Any:
        from ape.exceptions import AccountsError, ApeException, NetworkMismatchError

        args = [*ctx.protected_args, *ctx.args]
        try:
            return super().invoke(ctx)
        except click.BadParameter as exc:
            raise network_hint(exc, args) from exc
        except click.exceptions.Abort as exc:
            raise click.ClickException(
                "Aborted: nothing was sent (give --yes to answer yes without the question)"
            ) from exc
        except NetworkMismatchError as exc:
            raise click.ClickException(
                f"{exc} Check --network (energyweb:volta is chain id 73799, energyweb:mainnet 246)"
            ) from exc
        except AccountsError as exc:
            alias = getattr(ctx.params.get("account"), "alias", None) or "?"
            raise click.ClickException(passphrase_problem(alias, exc)) from exc
        except ApeException as exc:
            raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc


def network_hint(exc: click.BadParameter, args: list[str]) -> click.BadParameter:
    """`exc`, or for a network choice without its ecosystem, one that names the full choice."""
    param = getattr(exc, "param", None)
    value = getattr(exc.ctx, "params", {}).get("network") if exc.ctx else None
    if param is None or param.name != "network":
        return exc
    given = next((a for a in (value, *_network_args(args)) if isinstance(a, str)), None)
    if given is None or ":" in given:
        return exc
    known = {"volta": "energyweb:volta", "mainnet": "energyweb:mainnet", "ewc": "energyweb:mainnet",
             "local": "ethereum:local"}  # fmt: skip
    suggestion = known.get(given.lower(), f"<ecosystem>:{given}")
    return click.BadParameter(
        f"{given!r} names no ecosystem: give ecosystem:network[:provider], e.g. "
        f"{suggestion} (or {suggestion}:node)", param=param,
    )  # fmt: skip


def _network_args(args: list[str]) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--network"]
