"""Name -> object registries filled by plugin ``register_*`` hooks.

A duplicate name fails loudly, naming both plugins; an unknown name lists the valid choices.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from regionadapt.errors import PluginError

T = TypeVar("T")


class Registry(Generic[T]):
    """Ordered mapping from a registered name to an object, remembering which plugin gave it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._owners: dict[str, str] = {}

    def add(self, name: str, obj: T, owner: str) -> None:
        if not isinstance(name, str) or not name:
            raise PluginError(
                f"plugin {owner!r} registered a {self.kind} with an empty or non-string name"
            )
        if name in self._items:
            raise PluginError(
                f"{self.kind} {name!r} is registered twice: by plugin {self._owners[name]!r} "
                f"and by plugin {owner!r}; uninstall or rename one of them"
            )
        self._items[name] = obj
        self._owners[name] = owner

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            choices = ", ".join(sorted(self._items)) or "(none installed)"
            raise PluginError(f"unknown {self.kind} {name!r}; valid choices: {choices}") from None

    def owner(self, name: str) -> str:
        return self._owners[name]

    def names(self) -> list[str]:
        return list(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(self._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __len__(self) -> int:
        return len(self._items)
