"""YAML for documents people upload (form templates, entry scripts).

Only the safe loader is used (no tags, no Python objects), and aliases are
refused outright: neither document kind needs them, and nested aliases are
how a few hundred bytes of YAML expand into a billion nodes ("billion
laughs") that a schema check would then walk for hours.
"""

from __future__ import annotations

from typing import Any

import yaml

ALIAS_REFUSED_JA = "エイリアス（*）は使えません"


class NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (``*name``) wherever they appear."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.MarkedYAMLError(None, None, ALIAS_REFUSED_JA, event.start_mark, None)
        return super().compose_node(parent, index)


def compose(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for line numbers) and the data built from it, or
    ``yaml.MarkedYAMLError`` for a syntax error, an alias or a tag the safe
    loader does not know."""
    loader = NoAliasLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return node, data
