"""The default CSS of the widgets the next screens use, parsed while the admin reads.

Textual parses a widget class's ``DEFAULT_CSS`` (and its bases') the first time a widget of
that class is mounted, then rebuilds its index of rules: opening the answers form did that for
ten classes (some 15-20 ms of the key), the step list, a step and the help for thirteen more
(issue 13: no key over 0.3 s). Once the first screen is up, :func:`warm` adds them to the
app's stylesheet as Textual would (the same sources, priorities and scopes, read by Textual's
own ``_get_default_css``), so those mounts find them there and parse nothing.

Only classes with no widget on screen yet are added, so no widget shown changes its style: a
widget class's CSS applies to that class (and its subclasses) only, and a class whose CSS is
not registered has no widget mounted (mounting one registers it). ``tests/ui/
test_screen_work.py`` walks the screens and fails if one of their keys still parses CSS, so
a widget class new to a screen is added here.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Iterable, List, Tuple, Type

from textual.app import App
from textual.dom import DOMNode


def later_widgets() -> List[Type[DOMNode]]:
    """The widget classes the answers form, the step list, a step and the help mount
    (imported here, once the preload has imported their screens)."""
    from textual.widgets import (
        ContentSwitcher,
        Label,
        LoadingIndicator,
        RichLog,
        TabbedContent,
        TabPane,
        Tabs,
    )
    from textual.widgets._select import SelectCurrent, SelectOverlay
    from textual.widgets._tabbed_content import ContentTab, ContentTabs
    from textual.widgets._tabs import Underline

    from .widgets import DiffView, MoreFields, ScrollPanel, StateCheckbox, StepProgress
    from .widgets.fields import FormInput, FormSelect, FormTextArea

    return [FormInput, Label, MoreFields, FormSelect, SelectCurrent, SelectOverlay,
            FormTextArea, StateCheckbox, LoadingIndicator, RichLog, StepProgress,
            TabbedContent, ContentSwitcher, ContentTabs, ContentTab, Tabs, Underline, TabPane,
            DiffView, ScrollPanel]


def default_css(cls: Type[DOMNode]) -> List[Tuple[Tuple[str, str], str, int, str]]:
    """``cls``'s default CSS with its bases', as Textual registers it when mounting a widget
    of ``cls``: (where it was read, the CSS, priority among the bases, scope)."""
    node = SimpleNamespace(_node_bases=cls._css_bases(cls))
    return DOMNode._get_default_css(node)  # type: ignore[arg-type]


def warm(app: App[Any], classes: Iterable[Type[DOMNode]]) -> int:
    """Add the default CSS of ``classes`` that the app's stylesheet lacks, and parse it now;
    the number of sources added. Call on the app's thread."""
    stylesheet = app.stylesheet
    added = 0
    for cls in classes:
        for read_from, css, tie_breaker, scope in default_css(cls):
            if stylesheet.has_source(*read_from):
                continue
            stylesheet.add_source(css, read_from=read_from, is_default_css=True,
                                  tie_breaker=tie_breaker, scope=scope)
            added += 1
    if added:
        stylesheet.parse()
        stylesheet.rules_map  # noqa: B018 - builds the index of rules the next mount uses
    return added
