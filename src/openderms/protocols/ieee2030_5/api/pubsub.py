"""``/edev/{id}/sub`` (SubscriptionList, Subscription: clause 9.6)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openderms.protocols.ieee2030_5.api.common import call, client, read_xml, services, xml
from openderms.protocols.ieee2030_5.manager.paging import paged, parse_page
from openderms.protocols.ieee2030_5.mapper import links
from openderms.protocols.ieee2030_5.repository.pubsub import SubscriptionRecord
from openderms.protocols.ieee2030_5.schema.pubsub import Subscription, SubscriptionList


def _subscription(item: SubscriptionRecord) -> Subscription:
    return Subscription(
        href=links.subscription(item.end_device_id, item.id),
        subscribed_resource=item.subscribed_resource,
        encoding=item.encoding,
        level=item.level,
        limit=item.limit,
        notification_uri=item.notification_uri,
    )


async def subscription_list(request: Request) -> Response:
    who = await client(request)
    s = services(request)
    edev = request.path_params["edev"]
    found = await call(s.subscriptions.of, who, edev)
    items, total = paged(found, parse_page(request.query_params))
    return xml(
        SubscriptionList(
            href=links.subscriptions(edev),
            all=total,
            results=len(items),
            poll_rate=s.server.poll_rate_s,
            items=[_subscription(i) for i in items],
        )
    )


async def subscribe(request: Request) -> Response:
    who = await client(request)
    s = services(request)
    if s.subscriptions.base_url is None:
        s.subscriptions.base_url = str(request.base_url).rstrip("/")
    edev = request.path_params["edev"]
    posted = await read_xml(request, Subscription)
    new_id = await call(s.subscriptions.subscribe, who, edev, posted)
    return Response(status_code=201, headers={"Location": links.subscription(edev, new_id)})


async def subscription(request: Request) -> Response:
    who = await client(request)
    args = who, request.path_params["edev"], request.path_params["sub"]
    return xml(_subscription(await call(services(request).subscriptions.get, *args)))


async def unsubscribe(request: Request) -> Response:
    who = await client(request)
    args = who, request.path_params["edev"], request.path_params["sub"]
    await call(services(request).subscriptions.unsubscribe, *args)
    return Response(status_code=204)


def routes() -> list[Route]:
    base = links.EDEV + "/{edev:int}/sub"
    return [
        Route(base, subscription_list, methods=["GET", "HEAD"]),
        Route(base, subscribe, methods=["POST"]),
        Route(base + "/{sub:int}", subscription, methods=["GET", "HEAD"]),
        Route(base + "/{sub:int}", unsubscribe, methods=["DELETE"]),
    ]
