"""The ``mlportfolio`` command line: a thin typer layer over the generator's functions.

Every command calls one function that tests also call directly; this module only
parses options, prints results and turns ``MlportfolioError`` into one red line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
from rich.console import Console
from rich.table import Table

from mlportfolio import __version__
from mlportfolio.answers import UserInputs
from mlportfolio.check import Report, check_project
from mlportfolio.errors import MlportfolioError, UsageError
from mlportfolio.kinds import KINDS
from mlportfolio.rehearse import (
    DEFAULT_ANSWER_SECONDS,
    DEFAULT_QUESTIONS,
    Drill,
    History,
    Instruments,
    history_view,
    project_root,
    write_card,
)
from mlportfolio.rehearse import rehearse as run_rehearsal
from mlportfolio.render import NewProject, RenderedProject, is_interactive, new_project
from mlportfolio.update import update_project

try:  # typer >= 0.23 carries its own copy of click
    from typer._click.exceptions import UsageError as ClickUsageError
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import UsageError as ClickUsageError  # type: ignore[assignment]


class _OneLineErrors:
    """Mixed into click's command classes: the CLI's one error path. A usage error
    (unknown option, missing argument) or an ``MlportfolioError`` is one red line naming
    the fix and a distinct exit code; Ctrl-C is 130; ``--debug`` shows the traceback."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: Any = None,
        **extra: Any,
    ) -> Any:
        try:
            return super().make_context(info_name, args, parent, **extra)  # type: ignore[misc]
        except ClickUsageError as error:
            command = f"{parent.command_path} {info_name}" if parent else "mlportfolio"
            _err.print(
                f"[red]error:[/red] {error.format_message().rstrip('.')}; see `{command} --help`"
            )
            raise typer.Exit(2) from None

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)  # type: ignore[misc]
        except MlportfolioError as error:
            if _state["debug"]:
                raise
            _err.print(f"[red]error:[/red] {error.message}")
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            _err.print("[red]interrupted:[/red] nothing was written")
            raise typer.Exit(130) from None


class _Group(_OneLineErrors, typer.core.TyperGroup):
    pass


class _Command(_OneLineErrors, typer.core.TyperCommand):
    pass


app = typer.Typer(
    cls=_Group,
    name="mlportfolio",
    help="Render a finished, deployable, explainable ML portfolio project in one command.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        _out.print(f"mlportfolio {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback when something fails.")
    ] = False,
) -> None:
    """Render a finished, deployable, explainable ML portfolio project in one command."""
    _state["debug"] = debug


def _parse_set(pairs: list[str]) -> dict[str, str]:
    answers = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {pair!r} is not KEY=VALUE", "write it as --set key=value")
        answers[key.strip()] = value
    return answers


@app.command(cls=_Command)
def new(
    kind: Annotated[str, typer.Argument(help=f"Project kind: {', '.join(KINDS)}.")],
    dest: Annotated[Path, typer.Argument(help="New folder to create (must not exist).")],
    name: Annotated[
        str | None, typer.Option(help="Project name (default: DEST's folder name).")
    ] = None,
    defaults: Annotated[
        bool, typer.Option("--defaults", help="Accept every default; ask no questions.")
    ] = False,
    data: Annotated[Path | None, typer.Option(help="classifier/finetune: your CSV file.")] = None,
    target: Annotated[str | None, typer.Option(help="classifier: the column to predict.")] = None,
    positive_class: Annotated[
        str | None, typer.Option(help="classifier: the label value that counts as positive.")
    ] = None,
    corpus: Annotated[
        Path | None, typer.Option(help="rag: folder of .md/.rst/.txt/.html/.pdf documents.")
    ] = None,
    text_col: Annotated[str | None, typer.Option(help="finetune: the text column.")] = None,
    label_col: Annotated[str | None, typer.Option(help="finetune: the label column.")] = None,
    base_model: Annotated[
        str | None, typer.Option(help="finetune: Hugging Face model name for the LLM track.")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Answer a template question: --set key=value (repeatable).",
        ),
    ] = None,
) -> None:
    """Create a new project of KIND in DEST.

    Example: mlportfolio new classifier credit-risk --defaults
    """
    project = new_project(
        NewProject(
            kind=kind,
            dest=dest,
            name=name,
            defaults=defaults or not is_interactive(),
            inputs=UserInputs(
                data=data,
                target=target,
                positive_class=positive_class,
                corpus=corpus,
                text_col=text_col,
                label_col=label_col,
                base_model=base_model,
            ),
            answers=_parse_set(set_ or []),
        )
    )
    _report(project, dest)


def _report(project: RenderedProject, dest: Path) -> None:
    for warning in project.warnings:
        _err.print(f"[yellow]warning:[/yellow] {warning}")
    _out.print(
        f"[green]Created[/green] {project.kind.name} project [bold]{project.package}[/bold] "
        f"in {project.path}"
    )
    first, second = project.kind.next_steps
    _out.print("Next:")
    for step in (f"cd {dest} && make install", first, second):
        _out.print(f"  {step}")


@app.command(cls=_Command)
def update(
    path: Annotated[Path, typer.Argument(help="The generated project.")] = Path(),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
) -> None:
    """Merge the installed template version into a generated project, keeping your edits.

    Example: mlportfolio update ~/credit-risk --dry-run
    """
    result = update_project(path, dry_run=dry_run)
    verb = "would change" if dry_run else "changed"
    if not result.changed:
        _out.print(f"{result.path.name} is up to date with template {result.new_version}")
        return
    _out.print(
        f"template {result.old_version} -> {result.new_version} {verb} "
        f"{len(result.changed)} file(s):"
    )
    for changed in result.changed:
        _out.print(f"  {changed}")
    if result.conflicts:
        _err.print(
            f"[red]{len(result.conflicts)} conflict(s)[/red]"
            + (" expected" if dry_run else ": edit the conflict markers, then `git commit`")
        )
        for conflict in result.conflicts:
            _err.print(f"  {conflict}")
        raise typer.Exit(1)
    if not dry_run:
        _out.print("[green]Merged[/green] and committed; review it with `git show --stat`")


@app.command(cls=_Command)
def check(
    path: Annotated[Path, typer.Argument(help="The generated project.")] = Path(),
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Lint the README walkthrough before you share the repo (exit 1 on findings).

    Example: mlportfolio check ~/credit-risk
    """
    report = check_project(path)
    if as_json:
        _out.print_json(report.to_json())
    else:
        _print_report(report)
    if report.findings:
        raise typer.Exit(1)


def _print_report(report: Report) -> None:
    if report.findings:
        table = Table("rule", "where", "problem", "fix", title="mlportfolio check")
        for finding in report.findings:
            table.add_row(
                finding.rule, f"{finding.path}:{finding.line}", finding.problem, finding.fix
            )
        _out.print(table)
    low, high = report.speaking_minutes
    _out.print(
        f"Speaking time: {low}-{high} min for {report.spoken_words} words "
        "at 160-130 words/min (target 5-7 min)"
    )
    for note in report.notes:
        _out.print(f"[yellow]note:[/yellow] {note}")
    if report.resume_bullets:
        _out.print("Resume bullets (from your logged numbers):")
        for bullet in report.resume_bullets:
            _out.print(f"  - {bullet}")
    if report.findings:
        _out.print(f"[red]{len(report.findings)} finding(s)[/red]")
    else:
        _out.print("[green]ready to walk through[/green]")


@app.command(cls=_Command)
def rehearse(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The generated project.")] = Path(),
    questions: Annotated[
        int, typer.Option(min=0, help="Follow-up questions to drill (0: walkthrough only).")
    ] = DEFAULT_QUESTIONS,
    seconds: Annotated[
        int, typer.Option(min=5, help="Seconds on the clock for each follow-up answer.")
    ] = DEFAULT_ANSWER_SECONDS,
    history: Annotated[
        bool, typer.Option("--history", help="Show past sessions as a table and a chart.")
    ] = False,
    card: Annotated[
        bool, typer.Option("--card", help="Write reports/cue-card.md and print it.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --history: print JSON.")] = False,
) -> None:
    """Say the walkthrough against the clock, then answer follow-ups aloud and rate them.

    Example: mlportfolio rehearse ~/credit-risk --questions 3
    """
    if history and card:
        raise UsageError("--history and --card do not combine", "run one, then the other")
    if as_json and not history:
        raise UsageError(
            "--json goes with --history", "run `mlportfolio rehearse --history --json`"
        )
    if history:
        past = History.read(project_root(path)[0])
        if as_json:
            _out.print_json(past.to_json())
        else:
            _out.print(*history_view(past), sep="\n")
    elif card:
        written, text = write_card(path)
        _out.print(text, markup=False, end="")
        _out.print(f"[green]Wrote[/green] {written}")
    else:
        drill = Drill(questions=questions, answer_s=float(seconds))
        tools = ctx.find_object(Instruments) or Instruments()
        run_rehearsal(path, drill, stdin=sys.stdin, console=_out, instruments=tools)


@app.command("list", cls=_Command)
def list_kinds() -> None:
    """List the project templates, one line each."""
    width = max(len(name) for name in KINDS)
    for kind in KINDS.values():
        _out.print(f"{kind.name:<{width}}  {kind.summary}")


def main() -> None:
    """Console-script entry point: no traceback for anything unless --debug."""
    try:
        app()
    except KeyboardInterrupt:
        _err.print("[red]interrupted:[/red] nothing was written")
        sys.exit(130)
    except Exception as error:
        if "--debug" in sys.argv:
            raise
        _err.print(
            f"[red]internal error:[/red] {type(error).__name__}: {error}; "
            "rerun with --debug and report the traceback",
        )
        sys.exit(70)
