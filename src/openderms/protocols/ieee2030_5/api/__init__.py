"""Thin Starlette routers, one module per function set: parse the request, ask a manager,
map the answer, respond ``application/sep+xml``."""
