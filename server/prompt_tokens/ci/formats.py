"""``check --format``: pick a renderer, write it, and (for ``github``) the step summary.

Renderers are pure (``CheckReport`` → ``str``); the two writes happen here, at the edge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

from prompt_tokens import environment
from prompt_tokens.ci.github import render_github, summary_markdown
from prompt_tokens.ci.junit import render_junit
from prompt_tokens.ci.render_json import render_json
from prompt_tokens.ci.render_text import render_text
from prompt_tokens.ci.report import CheckReport
from prompt_tokens.ci.sarif import render_sarif
from prompt_tokens.errors import PermanentError, UsageError

RENDERERS: Mapping[str, Callable[[CheckReport], str]] = {
    "text": render_text,
    "json": render_json,
    "sarif": render_sarif,
    "junit": render_junit,
    "github": render_github,
}
FORMATS = tuple(RENDERERS)


def render(report: CheckReport, fmt: str) -> str:
    try:
        renderer = RENDERERS[fmt]
    except KeyError:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}") from None
    return renderer(report)


def write_step_summary(
    report: CheckReport, environ: environment.EnvMap | None = None
) -> Path | None:
    """Append the Markdown summary to ``$GITHUB_STEP_SUMMARY`` when it is set (the file GitHub
    shows on the run's page); the path written, or None when the variable is unset."""
    target = environment.github_step_summary(environ)
    if target is None:
        return None
    path = Path(target)
    try:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(summary_markdown(report))
    except OSError as exc:
        raise PermanentError(
            f"cannot append the summary to $GITHUB_STEP_SUMMARY ({path}): {exc.strerror or exc}"
        ) from None
    return path


def emit(
    report: CheckReport, fmt: str, stream: TextIO, environ: environment.EnvMap | None = None
) -> None:
    """Write ``report`` as ``fmt`` to ``stream``; ``github`` also writes the step summary."""
    stream.write(render(report, fmt))
    if fmt == "github":
        write_step_summary(report, environ)
