"""Lazy imports of optional dependencies with an install hint when they are missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from sleuth.errors import MissingExtraError


def require(module: str, extra: str, *, purpose: str = "") -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming ``pip install sleuth[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        what = f" for {purpose}" if purpose else ""
        raise MissingExtraError(
            f"Sleuth needs the optional package '{module}'{what}, which is not installed.",
            hint=f"pip install 'sleuth[{extra}]'",
            module=module,
            extra=extra,
            cause=str(exc),
        ) from exc
