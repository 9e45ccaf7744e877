"""cactus-client-notifications (the webhook server of subscription procedures) over TLS, as
CSIP requires https notificationURIs: webhooks on https (certificate from the test CA), its
admin endpoints, which cactus-client calls, also on plain http. Run with .venv-cactus:

    python conformance/notifications.py CERT KEY HTTPS_PORT HTTP_PORT
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys


async def main(cert: str, key: str, https_port: int, http_port: int) -> None:
    os.environ["SERVER_URL"] = f"https://127.0.0.1:{https_port}"
    from aiohttp import web
    from cactus_client_notifications.server.main import create_app

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    runner = web.AppRunner(create_app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", https_port, ssl_context=ctx).start()
    await web.TCPSite(runner, "127.0.0.1", http_port).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
