"""The child side of ecopy.web.isolation: imported once by the forkserver (libraries quieted,
signature code loaded), then `run` in each forked child."""

from __future__ import annotations

import resource
from dataclasses import dataclass
from typing import Any

from ecopy.cli import quiet_libraries

quiet_libraries()  # this module is the forkserver's preload: its stderr is the server's

from ecopy.keys import check_pdf  # noqa: E402  (after the libraries are quieted)
from ecopy.settings import Settings  # noqa: E402


class LookupFailed(RuntimeError):
    """The parent could not answer a lookup (its message says why)."""


@dataclass(frozen=True)
class Ask:
    """A question for the parent: "register" (an entry) or "cancellation" (a copy id)."""

    kind: str
    arg: Any


def run(conn: Any, data: bytes, settings: Settings, memory_mb: int) -> None:
    try:
        limit = memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        def ask(kind: str) -> Any:
            def lookup(arg: Any) -> Any:
                conn.send(Ask(kind, arg))
                status, value = conn.recv()
                if status != "ok":
                    raise LookupFailed(value)
                return value

            return lookup

        report = check_pdf(data, settings, lookups=(ask("register"), ask("cancellation")))
        conn.send(("done", report))
    except MemoryError:
        conn.send(("limit", "memory"))
    except Exception as exc:  # a report could not be made at all: say so, never hang
        conn.send(("error", f"{type(exc).__name__}: {str(exc)[:300]}"))
    finally:
        conn.close()
