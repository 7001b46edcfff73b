"""The app's routes as the router serves them (included routers flattened), for tests that
must hold for every route of a kind, including routes added later."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from .helpers import Site

__all__ = ["Route", "app_routes", "dependency_calls"]


@dataclass(frozen=True)
class Route:
    path: str
    methods: frozenset[str]
    dependant: Dependant


def app_routes(site: Site) -> list[Route]:
    """Every FastAPI route of the site (not static files or the API docs)."""
    found = []
    for context in iter_route_contexts(site.app.app.routes):
        dependant = getattr(context, "dependant", None)
        if isinstance(dependant, Dependant) and context.path and context.methods:
            found.append(Route(context.path, frozenset(context.methods), dependant))
    return found


def dependency_calls(dependant: Dependant) -> Iterator[Any]:
    """Every dependency a route runs, however deep."""
    for sub in dependant.dependencies:
        yield sub.call
        yield from dependency_calls(sub)
