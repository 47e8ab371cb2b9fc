"""Command line of the worker node client."""

import click

from worker import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="worker")
def cli() -> None:
    """Worker node client for an Energy Web worker network."""
