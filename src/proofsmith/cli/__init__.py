"""The `proofsmith` command. Thin: each module in this package adds its commands.

A module here defines ``register(app: typer.Typer) -> None``; imports of heavy
packages stay inside the command functions so that ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from ..core import ProofsmithError

app = typer.Typer(
    name="proofsmith",
    help="Build verified corpora for proofs and code, train small provers, search, and check every candidate in a sandbox.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """proofsmith: verified corpora, small provers, proof search, sandboxed checking."""


def _register_all() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(app)


_register_all()


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one line on stderr and exit code 2."""
    try:
        app(args=argv, standalone_mode=False)
    except ProofsmithError as exc:
        print(f"proofsmith: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"proofsmith: error: no such file: {exc.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("proofsmith: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except SystemExit as exc:  # typer's --help and usage errors
        return exc.code if isinstance(exc.code, int) else 0
    except Exception as exc:  # click's usage errors carry their own exit codes
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        if isinstance(exc, click.exceptions.Exit):
            return exc.exit_code
        if isinstance(exc, click.exceptions.Abort):
            print("proofsmith: aborted", file=sys.stderr)
            return 1
        raise
    return 0
