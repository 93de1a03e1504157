"""The registered links a click may redirect to (R13), cached in memory.

All links are loaded when the server starts. A miss (a campaign compiled after the start)
costs one bounded read — that campaign's links only, at most once per campaign every
`refresh_after` seconds, with a timeout — rather than a periodic full refresh: links are
registered before the first email of a campaign goes out, so a miss is rare and recent, and
only a correctly signed click token can cause one (forged tokens fail before the cache), so
nobody outside can turn misses into database load. Concurrent misses on one campaign share a
single read.

Where links are read from is a `LinkSource`: the database (`DatabaseLinks`), or, on a tracking
node that has no database, the JetStream key-value bucket that `campaign send` fills
(ingest/jetstream.py), where a campaign not published yet is unavailable (503, try again),
never a guess.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol
from urllib.parse import quote, urlsplit

from clearpixel.store import Database
from clearpixel.store.campaigns import all_links, get_links


class LinkUnavailable(RuntimeError):
    """The link is not cached and the database could not be asked in time."""


def safe_location(url: str) -> str | None:
    """The registered URL as an ASCII Location value, or None if it is not http(s)."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return None
    return quote(url, safe=":/?#[]@!$&'()*+,;=%~")


class LinkSource(Protocol):
    """Where registered links are read from."""

    async def read_all(self) -> dict[tuple[int, int], str]:
        """Every registered link, by (campaign, link)."""

    async def read_campaign(self, campaign_id: int) -> dict[int, str]:
        """One campaign's links by link id; raises if they cannot be known now."""


class DatabaseLinks:
    """Links read from the installation's database (in a worker thread)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def all_now(self) -> dict[tuple[int, int], str]:
        with self.db.connect() as tx:
            return all_links(tx)

    def campaign_now(self, campaign_id: int) -> dict[int, str]:
        with self.db.connect() as tx:
            return get_links(tx, campaign_id)

    async def read_all(self) -> dict[tuple[int, int], str]:
        return await asyncio.to_thread(self.all_now)

    async def read_campaign(self, campaign_id: int) -> dict[int, str]:
        return await asyncio.to_thread(self.campaign_now, campaign_id)


class LinkCache:
    def __init__(
        self, source: LinkSource, *, refresh_after: float = 30.0, timeout: float = 2.0
    ) -> None:
        self.source = source
        self.refresh_after = refresh_after
        self.timeout = timeout
        self._links: dict[tuple[int, int], str] = {}
        self._checked: dict[int, float] = {}
        self._loading: dict[int, asyncio.Task[dict[int, str]]] = {}

    async def load(self) -> None:
        """Load every registered link (at start)."""
        links = await self.source.read_all()
        self._links.update(links)
        now = time.monotonic()
        for campaign_id, _ in links:
            self._checked[campaign_id] = now

    async def url(self, campaign_id: int, link_id: int) -> str | None:
        """The URL registered for (campaign, link), or None if there is none."""
        found = self._links.get((campaign_id, link_id))
        if found is not None:
            return found
        last = self._checked.get(campaign_id)
        if last is not None and time.monotonic() - last < self.refresh_after:
            return None
        task = self._loading.get(campaign_id)
        if task is None:
            task = asyncio.create_task(self.source.read_campaign(campaign_id))
            self._loading[campaign_id] = task
            task.add_done_callback(lambda _t: self._loading.pop(campaign_id, None))
        try:
            links = await asyncio.wait_for(asyncio.shield(task), self.timeout)
        except Exception as exc:
            raise LinkUnavailable(f"links of campaign {campaign_id} unavailable") from exc
        self._checked[campaign_id] = time.monotonic()
        for lid, url in links.items():
            self._links[(campaign_id, lid)] = url
        return links.get(link_id)
