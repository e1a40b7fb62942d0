"""An APIRouter that skips its routes at once for paths outside its prefix."""

from fastapi import APIRouter
from starlette.routing import Match, get_route_path
from starlette.types import Scope


class PrefixedRouter(APIRouter):
    """FastAPI matches a request against every route of every included
    router in turn (a regex each, twice for the router that has it); a
    path outside this router's prefix cannot match any of its routes."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not get_route_path(scope).startswith(self.prefix):
            return Match.NONE, {}
        return super().matches(scope)
