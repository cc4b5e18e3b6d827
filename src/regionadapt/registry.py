"""Name -> object registries filled by plugin ``register_*`` hooks.

A duplicate name fails loudly, naming both plugins and their distributions; an unknown name
lists the valid choices (and, for packs, the ones that could not be read).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from regionadapt.errors import PluginError

T = TypeVar("T")


class Registry(Generic[T]):
    """Ordered mapping from a registered name to an object, remembering which plugin gave it."""

    def __init__(self, kind: str, describe: Callable[[str], str] = repr) -> None:
        self.kind = kind
        self.describe = describe  # plugin name -> how messages name it ("'x' (its-dist)")
        self._items: dict[str, T] = {}
        self._owners: dict[str, str] = {}
        # Entries that could not be keyed by a name (a pack whose file cannot be read, a second
        # pack with a taken id): listed, never looked up.
        self.rejected: list[tuple[str, T]] = []

    def check_name(self, name: object, owner: str) -> None:
        if not isinstance(name, str) or not name:
            raise PluginError(
                f"plugin {self.describe(owner)} registered a {self.kind} with an empty or "
                f"non-string name ({name!r})"
            )

    def add(self, name: str, obj: T, owner: str) -> None:
        self.check_name(name, owner)
        if name in self._items:
            raise PluginError(
                f"{self.kind} {name!r} is registered twice: by plugin "
                f"{self.describe(self._owners[name])} and by plugin {self.describe(owner)}; "
                "uninstall or rename one of them"
            )
        self._items[name] = obj
        self._owners[name] = owner

    def reject(self, obj: T, owner: str) -> None:
        self.rejected.append((owner, obj))

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            choices = ", ".join(sorted(self._items)) or "(none installed)"
            extra = f" ({len(self.rejected)} more could not be read: see the list command)"
            raise PluginError(
                f"unknown {self.kind} {name!r}; valid choices: {choices}"
                + (extra if self.rejected else "")
            ) from None

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
