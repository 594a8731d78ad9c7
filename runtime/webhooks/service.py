"""A node's webhook deliveries: a dispatcher for each database it owns, one HTTP pool.

Events are delivered by the node that owns the database they were written to: an issuer's
by its home region's node, from the issuer's shard (so personal data in `data` leaves for
the receiver from inside the issuer's jurisdiction, and from nowhere else), and the
account-level ones (accounts, API keys, placement, webhooks) by the primary, from the
directory. Subscriptions come from the node's directory replica.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from runtime.webhooks.dispatcher import Dispatcher, Feed
from runtime.webhooks.outbound import Sender
from shards.outbox import EventFilter
from shards.webhooks import Webhook

if TYPE_CHECKING:
    from runtime.node import Node

DIRECTORY_FEED = "directory"


class WebhookService:
    def __init__(self, node: Node, give_up: Callable[[Webhook, str], Awaitable[bool]]) -> None:
        self._node = node
        self._give_up = give_up
        self._sender = Sender(allow_private=node.settings.webhooks_allow_private)
        self._dispatchers: dict[str, Dispatcher] = {}
        self._started = False

    def start(self) -> None:
        self._started = True
        self.sync()

    def sync(self) -> None:
        """A dispatcher for every database this node owns now; wake them all (subscriptions
        or placement may have changed)."""
        if not self._started:
            return
        directory = self._node.directory
        if directory is not None and DIRECTORY_FEED not in self._dispatchers:
            self._add(
                Feed(
                    DIRECTORY_FEED,
                    directory.database,
                    directory.outbox,
                    directory.deliveries,
                    _account_scope,
                )
            )
        for shard in self._node.shards.all():
            if shard.id not in self._dispatchers:
                self._add(
                    Feed(
                        shard.id,
                        shard.database,
                        shard.outbox,
                        shard.deliveries,
                        self._shard_scope(shard.id),
                    )
                )
        for dispatcher in self._dispatchers.values():
            dispatcher.wake()

    async def settle(self) -> None:
        """Deliver everything due at the clock's current time (tests move the clock, then
        call this)."""
        for _ in range(2):  # a pass may disable a subscription: settle what follows from it
            await asyncio.gather(*(d.settle() for d in self._dispatchers.values()))

    async def stop(self) -> None:
        for dispatcher in self._dispatchers.values():
            await dispatcher.stop()
        self._dispatchers.clear()
        await self._sender.close()

    def _add(self, feed: Feed) -> None:
        dispatcher = Dispatcher(
            feed,
            self._subscriptions,
            self._sender,
            self._node.sealer,
            self._node.clock,
            self._node.settings.public_url,
            self._give_up,
        )
        self._dispatchers[feed.name] = dispatcher
        dispatcher.start()

    def _subscriptions(self) -> Mapping[str, Webhook]:
        return self._node.replica.snapshot.webhooks

    def _shard_scope(self, shard_id: str) -> Callable[[Webhook], EventFilter | None]:
        def scope(webhook: Webhook) -> EventFilter | None:
            issuers = sorted(
                placement.issuer_id
                for placement in self._node.replica.snapshot.issuers.values()
                if placement.shard_id == shard_id
                and placement.account_id == webhook.account_id
                and (not webhook.issuer_ids or placement.issuer_id in webhook.issuer_ids)
            )
            return EventFilter(webhook.event_types, issuer_ids=issuers) if issuers else None

        return scope


def _account_scope(webhook: Webhook) -> EventFilter:
    return EventFilter(
        webhook.event_types,
        issuer_ids=webhook.issuer_ids or None,
        account_id=webhook.account_id,
    )
