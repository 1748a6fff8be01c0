"""A kind's portal pieces, loaded from its folder when a page first needs
them (``JobKind.portal``), and the template loader for their fragments."""

from __future__ import annotations

from functools import cache

from jinja2 import BaseLoader, FileSystemLoader, PrefixLoader

from jobs.adapters import PortalKind
from jobs.registry import JobKind, load_adapter

# "kind-<name>/<file>" finds <file> in that kind's template folder.
_FOLDERS: dict[str, BaseLoader] = {}
LOADER = PrefixLoader(_FOLDERS)
NONE = PortalKind()


@cache
def _load(path: str) -> PortalKind:
    found = load_adapter(path)
    if not isinstance(found, PortalKind):
        raise TypeError(f"{path} is not a PortalKind")
    return found


def portal_kind(kind: JobKind | None) -> PortalKind:
    """The kind's declaration (an empty one for kinds without portal pieces)."""
    if kind is None or kind.portal is None:
        return NONE
    found = _load(kind.portal)
    if found.templates is not None:
        _FOLDERS.setdefault(f"kind-{kind.name}", FileSystemLoader(found.templates))
    return found


def fragment(kind: JobKind | None, name: str) -> str:
    """The template name of one of the kind's fragments ('' when it has none)."""
    return f"kind-{kind.name}/{name}" if kind is not None and name else ""
