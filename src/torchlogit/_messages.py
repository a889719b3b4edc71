"""Text helpers for error messages, shared by every layer (it imports nothing of torchlogit)."""

from __future__ import annotations


def first_line(exc: object) -> str:
    """The first non-blank line of ``str(exc)``, or the exception's type name when it has no text.

    Library errors (pyarrow's, torch.distributed's) often run to many lines of context; torchlogit
    quotes only their first line, so each of its own messages stays one line.
    """
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
