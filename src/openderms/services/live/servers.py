"""uvicorn servers as tasks of the running event loop (one process, one loop): the 2030.5
server and the REST API share the loop with the fleet, the plant and the control loop, so
the in-process bus serves them all."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn


class QuietServer(uvicorn.Server):
    """A uvicorn server that leaves the process's signal handlers alone: Ctrl-C reaches the
    live run, which then stops every server in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(config: uvicorn.Config, stack: contextlib.AsyncExitStack) -> int:
    """Start ``config`` in this loop, stop it when ``stack`` closes; returns its port."""
    server = QuietServer(config)
    task = asyncio.create_task(server.serve())

    async def stop() -> None:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)

    while not server.started:
        if task.done():
            task.result()  # raises what stopped it (e.g. the port is taken)
            raise RuntimeError(f"server on {config.host}:{config.port} did not start")
        await asyncio.sleep(0.02)
    stack.push_async_callback(stop)
    port: int = server.servers[0].sockets[0].getsockname()[1]
    return port
