"""The Redis online store (extra ``redis``): one hash per view version, field = encoded key,
value = ``<event ms>|<JSON values>``; a chunk and its cursor are written by one Lua script, which
Redis runs atomically."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from slipway.core.errors import BackendUnavailable
from slipway.features.online.base import OnlineStore, Stored

PREFIX = "slipway:online:"
# KEYS[1] the view's hash, KEYS[2] its cursor; ARGV[1] the cursor, then key, ms, value triples.
WRITE = """
for i = 2, #ARGV, 3 do
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  if (not old) or tonumber(string.match(old, '^(%-?%d+)|')) <= tonumber(ARGV[i + 1]) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1] .. '|' .. ARGV[i + 2])
  end
end
redis.call('SET', KEYS[2], ARGV[1])
return 1
"""


def _split(raw: bytes | None) -> Stored | None:
    if raw is None:
        return None
    ms, _, value = raw.partition(b"|")
    return int(ms), value.decode()


class RedisOnlineStore(OnlineStore):
    def __init__(self, uri: str, namespace: str = "") -> None:
        try:
            import redis
        except ImportError as err:
            raise BackendUnavailable("the Redis online store needs the redis extra: pip install 'slipway[redis]'") from err
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError,)
        self.client = redis.Redis.from_url(uri)
        self._write = self.client.register_script(WRITE)
        self.prefix = f"{PREFIX}{namespace}:"

    def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except self._errors as err:
            raise BackendUnavailable(f"the Redis online store failed: {err}") from err

    def write(self, view: str, keys: Sequence[str], event_ms: Sequence[int], values: Sequence[str],
              cursor: dict[str, Any]) -> None:
        argv: list[Any] = [orjson.dumps(cursor)]
        for key, ms, value in zip(keys, event_ms, values, strict=True):
            argv += [key, int(ms), value]
        self._call(lambda: self._write(keys=[self.prefix + view, self.prefix + "cursor:" + view], args=argv))

    def read(self, view: str, keys: Sequence[str]) -> list[Stored | None]:
        return [_split(raw) for raw in self._call(self.client.hmget, self.prefix + view, list(keys))]

    def cursor(self, view: str) -> dict[str, Any] | None:
        raw = self._call(self.client.get, self.prefix + "cursor:" + view)
        return None if raw is None else orjson.loads(raw)

    def clear_cursor(self, view: str) -> None:
        self._call(self.client.delete, self.prefix + "cursor:" + view)

    def count(self, view: str) -> int:
        return int(self._call(self.client.hlen, self.prefix + view))

    def close(self) -> None:
        self.client.close()
