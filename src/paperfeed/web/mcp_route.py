"""/mcp, the MCP server of web/agents.py over streamable HTTP, built on its first request: importing the MCP
SDK and registering the tools took about half a second of a core at every start of the app, for an endpoint
most servers are never asked."""

from __future__ import annotations

import contextlib

import anyio
from starlette.exceptions import HTTPException

from paperfeed.web.context import Context


class McpRoute:
    """The ASGI endpoint behind /mcp. `running()` spans the app's lifetime (its lifespan); the first request
    builds the server and starts its session manager inside it, and later requests find it there."""

    def __init__(self, c: Context):
        self.c = c
        self.agents = None
        self.tasks: anyio.abc.TaskGroup | None = None
        self.lock: anyio.Lock | None = None

    async def __call__(self, scope, receive, send) -> None:
        tasks, lock = self.tasks, self.lock
        if tasks is None or lock is None:
            raise HTTPException(503, "the MCP endpoint is starting or stopping; try again")
        if self.agents is None:
            async with lock:  # two first requests at once build it once
                if self.agents is None:
                    self.agents = await tasks.start(self._serve)
        await self.agents(scope, receive, send)

    async def _serve(self, *, task_status) -> None:
        agents = await anyio.to_thread.run_sync(self._build)  # the import and the registering: off the loop
        async with agents.serving():
            task_status.started(agents)
            await anyio.sleep_forever()

    def _build(self):
        from paperfeed.web.agents import Agents

        return Agents(self.c)

    @contextlib.asynccontextmanager
    async def running(self):
        async with anyio.create_task_group() as tasks:
            self.tasks, self.lock = tasks, anyio.Lock()
            try:
                yield
            finally:
                if self.tasks is tasks:  # a second lifespan of the same app (a test's two clients) is not ended
                    self.tasks, self.lock, self.agents = None, None, None
                tasks.cancel_scope.cancel()
