"""One contract for every online store, subclassed per backend (SQLite file, real Redis)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from slipway.features.online.base import OnlineStore
from slipway.features.online.redis import RedisOnlineStore
from slipway.features.online.sqlite import SqliteOnlineStore


class OnlineStoreContract:
    @pytest.fixture
    def store(self, tmp_path: Path) -> OnlineStore:
        raise NotImplementedError

    def test_a_value_never_replaces_a_newer_one(self, store: OnlineStore) -> None:
        store.write("v@1", ["[1]", "[2]"], [100, 100], ["[1.0]", "[2.0]"], {"rows": 2})
        store.write("v@1", ["[1]", "[2]"], [50, 150], ["[9.0]", "[3.0]"], {"rows": 4})
        assert store.read("v@1", ["[1]", "[2]", "[3]"]) == [(100, "[1.0]"), (150, "[3.0]"), None]
        assert store.read("v@1", ["[2]"]) == [(150, "[3.0]")] and store.read("v@2", ["[1]"]) == [None]
        assert store.count("v@1") == 2

    def test_the_cursor_lands_with_its_chunk_and_clears(self, store: OnlineStore) -> None:
        assert store.cursor("v@1") is None
        store.write("v@1", ["[1]"], [5], ['["a"]'], {"last_key": "[1]", "rows": 1})
        assert store.cursor("v@1") == {"last_key": "[1]", "rows": 1}
        store.clear_cursor("v@1")
        assert store.cursor("v@1") is None and store.read("v@1", ["[1]"]) == [(5, '["a"]')]

    def test_many_keys_in_one_read(self, store: OnlineStore) -> None:
        keys = [f"[{i}]" for i in range(1200)]
        store.write("v@1", keys, list(range(1200)), [f"[{i}]" for i in range(1200)], {})
        found = store.read("v@1", list(reversed(keys)))
        assert [f[0] for f in found if f] == list(reversed(range(1200)))


class TestSqliteOnlineStore(OnlineStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> OnlineStore:
        return SqliteOnlineStore(str(tmp_path / "online.db"))


@pytest.mark.redis
class TestRedisOnlineStore(OnlineStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> OnlineStore:
        store = RedisOnlineStore("redis://127.0.0.1:6379/0", namespace=f"test-{uuid.uuid4().hex}")
        yield store  # type: ignore[misc]
        for key in store.client.scan_iter(store.prefix + "*"):
            store.client.delete(key)
        store.close()
