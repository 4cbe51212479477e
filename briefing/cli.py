"""The ``briefing`` command: flags in, progress and one-line messages out.

All work happens in the library (``pipeline``, ``local``); this module reads the environment
once into :class:`Settings`, draws progress, and turns :class:`BriefingError` into a line on
stderr and an exit code.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from . import __version__, llm, pipeline
from .cli_progress import RichProgress, TokenRate
from .config import Settings, load_settings, parse_formats
from .errors import BriefingError, ConfigError, SourceError, StateError
from .extract.batch import BatchMode, BatchWaiting
from .llm import local
from .models import Usage
from .read import sources
from .store import changes, state

# soft_wrap: a message is one line even when stderr is a pipe (Rich would wrap it at 80 columns).
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


@click.group()
@click.version_option(__version__, prog_name="briefing")
def main() -> None:
    """Sourced policy briefs from news articles."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--brief",
    "brief_file",
    type=click.Path(path_type=Path),
    help="brief.toml to use (default: ./brief.toml).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Output folder (default: from brief.toml, else out/).",
)
@click.option("--model", help="Model name (env BRIEFING_MODEL).")
@click.option("--base-url", help="OpenAI-compatible server URL (env OPENAI_BASE_URL).")
@click.option("--concurrency", type=int, help="Sources extracted in parallel (default 4).")
@click.option(
    "--tpm", type=int, help="Tokens per minute the server may be sent (env BRIEFING_TPM; no cap)."
)
@click.option("--local", is_flag=True, help="Use the embedded model even when an API key is set.")
@click.option(
    "--local-model", type=click.Path(path_type=Path), help="GGUF file for the embedded model."
)
@click.option(
    "--timeout", type=float, help="Seconds to wait for the server's next bytes (default 600)."
)
@click.option(
    "--force", is_flag=True, help="Ask the model again for everything, ignoring stored replies."
)
@click.option(
    "--format", "format", help="Formats to write, comma-separated: md,html,pdf (default: all)."
)
@click.option("--max-source-mb", type=float, help="Largest source file read, in MB (default 2).")
@click.option(
    "--batch", is_flag=True, help="Send new extraction requests as a Batch API batch (half price)."
)
@click.option(
    "--wait", is_flag=True, help="With --batch: poll until the batch is over, then go on."
)
@click.option(
    "--batch-file",
    type=click.Path(path_type=Path),
    help="Write new extraction requests as Batch API JSONL (for `vllm run-batch`) and stop.",
)
@click.option(
    "--batch-results",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read a Batch API / `vllm run-batch` output file, then finish the brief.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def build(
    paths: tuple[Path, ...],
    debug: bool,
    batch: bool,
    wait: bool,
    batch_file: Path | None,
    batch_results: Path | None,
    **flags: Any,
) -> None:
    """Build the brief of PATHS (files or folders; default: the sources in brief.toml).

    Exit status: 0 when the brief is written, 1 on an error, 3 when it waits for a batch
    (submitted or running, or its request file written): the line printed says what to run.
    """
    with _errors_as_messages(debug):
        settings = load_settings(os.environ, flags)
        mode = BatchMode(
            submit=batch or wait,
            wait=wait,
            requests_file=batch_file,
            results_file=batch_results,
            poll_seconds=float(os.environ.get("BRIEFING_BATCH_POLL_SECONDS") or 30),
        )
        if mode.submit and settings.use_local:
            raise ConfigError(
                "--batch needs a server with the Batch API (set OPENAI_API_KEY for OpenAI); "
                "for vLLM write the requests with --batch-file"
            )
        targets = list(paths) or list(settings.brief.sources)
        if not targets:
            raise click.UsageError("no PATHS given and no 'sources' in brief.toml")
        files, missing = sources.expand_paths(targets)
        if not files:  # say so before starting a model server for nothing
            reasons = "; ".join(f"{f.path}: {f.reason}" for f in missing)
            raise SourceError(f"no readable source ({reasons})")
        result = _build(settings, targets, mode)
        usage = result.usage
        err_console.print(
            f"[green]Wrote[/] {escape(str(result.paths['brief']))}: "
            f"{len(result.brief.sources)} sources read, "
            f"{len(result.failures)} not read, {len(result.events)} events in "
            f"{len(result.brief.timeline)} timeline rows, "
            f"{len(result.brief.disagreements)} disagreements, "
            f"{usage.requests} requests ({usage.cache_hits} answered from the refresh state), "
            f"{usage.prompt_tokens} tokens in "
            f"({usage.cached_tokens} reused) / {usage.completion_tokens} out, "
            f"{_cost(result.cost_usd)}{result.seconds:.0f}s"
        )


def _cost(dollars: float | None) -> str:
    if dollars is None:
        return "cost unknown (model not in the price table), "
    return f"${dollars:.4f}, " if dollars else ""


def _build(settings: Settings, targets: list[Path], mode: BatchMode) -> pipeline.BuildResult:
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description:<28}"),
        BarColumn(bar_width=24),
        TokenRate(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    # Nothing is drawn in a pipe or a dumb terminal (transient live bars), yet Rich would still
    # lay out every bar ten times a second and on each new source: off there, the CPU is the
    # requests'. The log lines are printed either way.
    drawn = err_console.is_terminal and not err_console.is_dumb_terminal
    with Progress(*columns, console=err_console, transient=True, disable=not drawn) as bars:
        progress = RichProgress(bars, err_console)
        if not settings.use_local:
            return pipeline.build(settings, targets, progress, batch_mode=mode)
        planned = local.server_settings(settings)
        timings: dict[str, float] = {}
        servers: list[local.LocalServer] = []
        with contextlib.ExitStack() as stack:

            def connect() -> Any:
                """Start (or reuse) the embedded server: only when a request must go out."""
                started = time.monotonic()
                progress.stage("starting the embedded model")
                server = stack.enter_context(
                    local.embedded_server(settings, on_status=progress.notice)
                )
                timings["server_start"] = time.monotonic() - started
                servers.append(server)
                progress.stage("extracting events")
                return llm.openai_client(planned, server.base_url)

            def endpoint() -> pipeline.Endpoint:
                if not servers:
                    return pipeline.Endpoint("none (every reply from the refresh state)")
                server = servers[0]
                return pipeline.Endpoint(
                    server=f"127.0.0.1:{server.port} (embedded llama-server"
                    + (", reused)" if server.reused else ")"),
                    embedded_model=server.model_name,
                )

            return pipeline.build(planned, targets, progress, endpoint, timings, connect, mode)


@main.command()
@click.option("--port", type=int, default=None, help="Port to listen on (default: a free one).")
@click.option("--local-model", type=click.Path(path_type=Path), help="GGUF file to serve.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def serve(port: int | None, local_model: Path | None, debug: bool) -> None:
    """Run the embedded model in the foreground; builds on this machine reuse it."""
    with _errors_as_messages(debug):
        settings = load_settings(os.environ, {"local": True, "local_model": local_model})
        local.serve_forever(settings, on_status=err_console.log, port=port)


@main.command("check")
@click.argument("out", type=click.Path(exists=True, path_type=Path), default="out")
@click.option("--offline", is_flag=True, help="Only the checks that need no model.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--model", help="Model name (env BRIEFING_MODEL).")
@click.option("--base-url", help="OpenAI-compatible server URL (env OPENAI_BASE_URL).")
@click.option("--local", is_flag=True, help="Use the embedded model even when an API key is set.")
@click.option("--force", is_flag=True, help="Ask the model again, ignoring stored verdicts.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def check_command(out: Path, offline: bool, as_json: bool, debug: bool, **flags: Any) -> None:
    """Check every claim of the brief in OUT against its sources.

    Exit status: 0 when every claim passes, 1 when one does not, 2 when the check could not run.
    """
    from . import audit
    from .checkview import print_report

    if out.is_file():  # `briefing check out/claims.json`, as before
        out = out.parent
    try:
        with _errors_as_messages(debug):
            settings = load_settings(os.environ, {**flags, "out": out})
            with _model_session(settings, offline) as (planned, connect), Progress(
                SpinnerColumn(), TextColumn("checking claims"), BarColumn(bar_width=24),
                TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                console=err_console, transient=True,
            ) as bars:  # fmt: skip
                task = bars.add_task("check", total=None)
                report = audit.audit(
                    out,
                    planned,
                    offline=offline,
                    connect=connect,
                    on_progress=lambda done, total: bars.update(task, completed=done, total=total),
                )
    except SystemExit as exc:
        sys.exit(2 if exc.code == 1 else exc.code)  # the check itself could not run
    if as_json:
        click.echo(report.model_dump_json(indent=2))
    else:
        print_report(report, Console(highlight=False, soft_wrap=True))
    sys.exit(0 if report.passed else 1)


@contextlib.contextmanager
def _model_session(settings: Settings, offline: bool) -> Iterator[tuple[Settings, Any]]:
    """The settings requests are keyed by, and how to reach the model when one must be asked:
    for the embedded model, a server started on the first request that is not stored."""
    if offline or not settings.use_local:
        yield settings, None
        return
    planned = local.server_settings(settings)
    with contextlib.ExitStack() as stack:

        def connect() -> Any:
            server = stack.enter_context(local.embedded_server(settings, on_status=err_console.log))
            return llm.openai_client(planned, server.base_url)

        yield planned, connect


@main.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path), default="out")
@click.option(
    "--format", "format", help="Formats to write, comma-separated: md,html,pdf (default: all)."
)
def render(out: Path, format: str | None) -> None:
    """Write the last build in OUT again from its stored records: no model, no sources read."""
    with _errors_as_messages(False):
        written = pipeline.render_last(out, parse_formats(format))
        names = ", ".join(str(written[k]) for k in ("brief", "html", "pdf") if k in written)
        err_console.print(f"[green]Wrote[/] {escape(names)}")


@main.command("review")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path), default="out")
@click.option("--port", type=int, default=None, help="Port on 127.0.0.1 (default: a free one).")
@click.option("--no-open", is_flag=True, help="Print the URL only; do not open a browser.")
@click.option(
    "--export",
    "export_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every decision to this JSON file and exit.",
)
@click.option(
    "--apply",
    "apply_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Store the decisions of this JSON file (a newer one kept here wins) and exit.",
)
def review_command(
    out: Path, port: int | None, no_open: bool, export_file: Path | None, apply_file: Path | None
) -> None:
    """Review the claims of the last build in OUT in a local page: accept, reject or edit each."""
    from .review import exchange, server

    with _errors_as_messages(False):
        if export_file is not None and apply_file is not None:
            raise click.UsageError("give --export or --apply, not both")
        if export_file is not None:
            with state.open_state(out, exclusive=False, existing=True) as st:
                count = exchange.export_decisions(st, export_file)
            err_console.print(f"[green]Wrote[/] {count} decision(s) to {escape(str(export_file))}")
            return
        if apply_file is not None:
            with state.open_state(out, exclusive=False, existing=True) as st:
                done = exchange.apply_file(st, apply_file)
            err_console.print(
                f"[green]Imported[/] {done.imported} decision(s) from {escape(str(apply_file))}; "
                f"kept {done.kept} newer one(s) already here; {done.same} already the same. "
                f"They apply from the next build, or now with: briefing render {escape(str(out))}"
            )
            return

        def ready(url: str) -> None:
            click.echo(f"Reviewing {out} at {url} (Ctrl-C stops)")

        server.serve(out, port, open_browser=not no_open, on_ready=ready)
        err_console.print("review stopped; every decision is saved")


@main.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path), default="out")
def runs(out: Path) -> None:
    """List the builds kept in OUT's refresh state, oldest first, with what each cost."""
    with _errors_as_messages(False):
        with state.open_state(out, exclusive=False, existing=True) as st:
            records = st.runs()
        click.echo(f"{'run':>4}  {'finished':<25} {'sources':>7} {'requests':>8} "
                   f"{'from state':>10} {'tokens in':>9} {'out':>6} {'cost $':>8} "
                   f"{'seconds':>7}  model")  # fmt: skip
        for r in records:
            usage = Usage.model_validate(r.manifest.get("usage", {}))
            seconds = sum(r.manifest.get("timings", {}).values())
            cost = r.manifest.get("cost_usd")
            shown = "?" if cost is None else f"{cost:.4f}"
            click.echo(
                f"{r.id:>4}  {r.finished_at:<25} {len(r.sources):>7} {usage.requests:>8} "
                f"{usage.cache_hits:>10} {usage.prompt_tokens:>9} {usage.completion_tokens:>6} "
                f"{shown:>8} {seconds:>7.1f}  {r.manifest.get('model', '')}"
            )


@main.command()
@click.argument("run_a", type=int, required=False)
@click.argument("run_b", type=int, required=False)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default="out")
def diff(run_a: int | None, run_b: int | None, out: Path) -> None:
    """What changed from build RUN_A to RUN_B (default: the last two builds in OUT)."""
    with _errors_as_messages(False):
        with state.open_state(out, exclusive=False, existing=True) as st:
            ids = [r.id for r in st.runs()]
            if run_a is None:
                if len(ids) < 2:
                    raise StateError(f"{out} has {len(ids)} build(s): nothing to compare yet")
                run_a, run_b = ids[-2], ids[-1]
            run_b = run_b if run_b is not None else ids[-1]
            a, b = st.run(run_a), st.run(run_b)
        for number, record in ((run_a, a), (run_b, b)):
            if record is None:
                raise StateError(f"no build {number} in {out} (builds: {ids[0]}–{ids[-1]})")
        assert a is not None and b is not None
        found = changes.compare(a.id, a.finished_at, a.events, a.sources, b.events, b.sources)
        click.echo(f"build {a.id} → build {b.id}: {changes.summary_line(found)}")
        for s in found.sources:
            click.echo(f"  source {s.kind}: {s.path}")
        for e in found.events:
            click.echo(f"  {e.label.lower()}: {e.date or 'undated'} {e.summary}")
        for subject in found.new_disagreements:
            click.echo(f"  new disagreement: {subject}")
        for text in found.retracted_key_points:
            click.echo(f"  key point retracted: {text}")


@contextlib.contextmanager
def _errors_as_messages(debug: bool) -> Iterator[None]:
    """Turn expected failures into one line on stderr and a non-zero exit."""
    try:
        yield
    except BatchWaiting as exc:  # not a failure: the brief waits for a batch
        err_console.print(f"[yellow]waiting:[/] {escape(str(exc))}")
        sys.exit(3)
    except BriefingError as exc:
        if debug:
            raise
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("[red]interrupted[/]")
        sys.exit(130)
