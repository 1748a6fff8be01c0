"""What a kind's own adapter pieces are given and declare.

A kind folder may hold its CLI sub-command (``cli.py``, with typer) and its
portal pieces (form fields, page fragments as template files, a review hook).
``JobKind.cli`` / ``JobKind.portal`` name them as ``module:attribute``; only
the adapter layer (the ``digilabo`` command, the portal) imports them, so
this module and the kinds' cores stay free of typer, FastAPI and Jinja.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, Protocol

from sqlalchemy.orm import Session

from jobs.store import Viewer

# --- the command line -------------------------------------------------------------------


class CommandHost(Protocol):
    """What the ``digilabo`` command lends a kind's sub-commands."""

    console: Any  # rich.console.Console for results
    err: Any  # rich.console.Console on stderr

    def options(self, kind: str, **overrides: Any) -> Any:
        """The options a worker would hand the core of ``kind`` (settings
        ``overrides`` first), resources included: the kind's typed options,
        or the plain mapping for a kind without an options type."""

    def session(self) -> AbstractContextManager[Session]:
        """One transaction on the configured database, migrated first."""

    def fail(self, message: str, code: int = 1) -> NoReturn:
        """Print ``message`` in red and exit with ``code``."""


# --- the portal -----------------------------------------------------------------------------

Choices = Callable[[Session, Viewer], list[tuple[str, str]]]


@dataclass(frozen=True)
class FormField:
    """One input on the new-job form. ``kind``: text, date, textarea, select,
    number, checkbox. A select with a ``default`` has no empty choice and
    starts on it."""

    name: str
    label: str
    kind: str = "text"
    help: str = ""
    required: bool = False
    placeholder: str = ""
    max_length: int = 200
    choices: Choices | None = None
    default: str = ""
    convert: Callable[[str], Any] = field(default=lambda v: v)
    # The name of a checkbox on the same form: this field is shown (and
    # sent) only while that box is checked; without JavaScript it always is.
    shown_with: str = ""


@dataclass(frozen=True)
class FileInput:
    """The file input of a kind whose files are not what its name suggests."""

    label: str
    accept: str
    help: str = ""


@dataclass(frozen=True)
class PortalKind:
    """A kind's portal pieces. ``templates`` is the kind's template folder;
    ``form_fragment`` / ``job_fragment`` are file names in it, included in
    the new-job form and the job page. ``job_context`` adds values for the
    job fragment from the job's summary."""

    fields: tuple[FormField, ...] = ()
    file_input: FileInput | None = None
    # How a stored parameter value reads on the job page, by parameter.
    value_labels: Mapping[str, Mapping[Any, str]] = field(default_factory=dict)
    templates: Path | None = None
    form_fragment: str = ""
    job_fragment: str = ""
    job_context: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
