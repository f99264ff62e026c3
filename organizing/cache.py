"""Django's Redis cache, keeping its redis-py client instead of building one per call.

Django's RedisCacheClient makes a new `redis.Redis` for every cache call, and each fills
its table of some 300 reply handlers: a knock's rate limit, counted in two calls, spent
more time building clients than waiting on Redis. A client holds no connection of its
own (its pool lends one to each command), so one per pool serves for the life of the
process's thread (Django keeps a cache object per thread)."""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class KeptClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        this: Any = self  # Django's private parts, which its type stubs leave out
        index = this._get_connection_pool_index(write)
        if index not in self._clients:
            self._clients[index] = this._client(connection_pool=this._get_connection_pool(write))
        return self._clients[index]


class KeptClientRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = KeptClient
