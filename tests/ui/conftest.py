"""Fixtures of the UI tests: the story's data and a server over it, once per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import make_settings
from tests.ui.browser import ui_server
from tests.ui.story import Story, build


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Story:
    return build(tmp_path_factory.mktemp("ui-story"))


@pytest.fixture(scope="module")
def server(story: Story) -> Iterator[str]:
    with ui_server(make_settings(story.home)) as (url, _admin):
        yield url
