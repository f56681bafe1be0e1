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
    """Entry point. Bad input (a usage error, a `ProofsmithError`) is one line on stderr and exit
    code 2; SIGINT and SIGTERM stop the run, keep what it wrote, say how to resume, and exit with
    130 or 143 (the shell's 128 + signal), so that `check && eval` does not go on."""
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError  # typer>=0.29 vendors click

    from ..runs import Interrupted, end_children, interruptible

    command = typer.main.get_command(app)  # invoked here, not through app(): typer hides Ctrl-C and usage errors
    args = list(sys.argv[1:] if argv is None else argv)
    with interruptible():
        try:
            with command.make_context("proofsmith", args) as ctx:
                command.invoke(ctx)
        except KeyboardInterrupt as exc:  # Interrupted (our SIGINT and SIGTERM handler), or a plain Ctrl-C
            end_children()  # a coqidetop or a sandbox in its own session, left by a step cut short
            print("proofsmith: interrupted; rerun the same command to resume", file=sys.stderr)
            return exc.exit_code if isinstance(exc, Interrupted) else 130
        except ProofsmithError as exc:
            print(f"proofsmith: error: {exc}", file=sys.stderr)
            return 2
        except FileNotFoundError as exc:
            print(f"proofsmith: error: no such file: {exc.filename}", file=sys.stderr)
            return 2
        except NoArgsIsHelpError as exc:  # a bare `proofsmith` or `proofsmith extract`: the help
            exc.show()
            return exc.exit_code
        except UsageError as exc:
            print(f"proofsmith: error: {_usage_line(exc)}", file=sys.stderr)
            return 2
        except ClickException as exc:
            print(f"proofsmith: error: {' '.join(exc.format_message().split())}", file=sys.stderr)
            return exc.exit_code or 1
        except typer.Exit as exc:  # --help, or a command's own exit code
            return exc.exit_code
        except typer.Abort:
            print("proofsmith: aborted", file=sys.stderr)
            return 1
        except BrokenPipeError:  # `proofsmith ... | head`
            sys.stdout = None
            return 1
    return 0


def _usage_line(exc) -> str:
    """One line: which command, what is wrong (the option and why), where the help is."""
    message = " ".join(exc.format_message().split()).rstrip(".")
    message = message[:1].lower() + message[1:]
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return message
    sub = ctx.command_path.partition(" ")[2]
    return f"{sub + ': ' if sub else ''}{message} (see '{ctx.command_path} --help')"
