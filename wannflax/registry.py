"""Named registries, so configs and flags pick components by string.

A registry maps a name to a component (a class, a function, a table entry).
Names can carry keyword arguments, big_vision style: ``"adamw(b1=0.8)"``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised when a name is not registered; the message lists the choices."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0])


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Splits ``"name(a=1, b='x')"`` into ``("name", {"a": 1, "b": "x"})``.

    Args:
      spec: a bare name, or a name followed by keyword arguments whose values
        are Python literals.

    Returns:
      The name and the keyword arguments.

    Raises:
      ValueError: if the spec is not of that form.
    """
    spec = spec.strip()
    if "(" not in spec:
        return spec, {}
    if not spec.endswith(")"):
        raise ValueError(
            f"Malformed component spec {spec!r}: expected 'name(k=v, ...)'."
        )
    try:
        call = ast.parse(spec, mode="eval").body
    except SyntaxError as err:
        raise ValueError(f"Malformed component spec {spec!r}: {err.msg}.") from None
    if (
        not isinstance(call, ast.Call)
        or not isinstance(call.func, ast.Name)
        or call.args
    ):
        raise ValueError(
            f"Malformed component spec {spec!r}: expected 'name(k=v, ...)' with keyword "
            "arguments only."
        )
    kwargs = {}
    for keyword in call.keywords:
        try:
            kwargs[keyword.arg] = ast.literal_eval(keyword.value)
        except ValueError:
            raise ValueError(
                f"Malformed component spec {spec!r}: the value of {keyword.arg!r} is not a "
                "Python literal."
            ) from None
    return call.func.id, kwargs


class Registry(Generic[T]):
    """A table of named components of one kind (``"activation"``, ...)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(
        self, name: str | None = None, *, overwrite: bool = False
    ) -> Callable[[T], T]:
        """Decorator registering a component under ``name`` (default: its __name__)."""

        def decorator(component: T) -> T:
            key = name or getattr(component, "__name__", None)
            if not key:
                raise ValueError(f"A {self.kind} needs a name to be registered.")
            self.add(key, component, overwrite=overwrite)
            return component

        return decorator

    def add(self, name: str, component: T, *, overwrite: bool = False) -> None:
        """Registers ``component`` under ``name``; refuses to replace silently."""
        if name in self._entries and not overwrite:
            raise ValueError(
                f"A {self.kind} named {name!r} is already registered; pass overwrite=True "
                "to replace it."
            )
        self._entries[name] = component

    def get(self, name: str) -> T:
        """Returns the component registered as ``name``.

        Raises:
          UnknownNameError: naming the bad name and listing the registered ones.
        """
        if name not in self._entries:
            raise UnknownNameError(
                f"Unknown {self.kind} {name!r}; the registered {self.kind} names are: "
                f"{', '.join(sorted(self._entries))}."
            )
        return self._entries[name]

    def build(self, spec: str, **extra: Any) -> Any:
        """Calls the component named by ``spec`` with its arguments and ``extra``."""
        name, kwargs = parse_spec(spec)
        return self.get(name)(**{**kwargs, **extra})

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)
