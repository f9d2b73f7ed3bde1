"""Verifying a file an anonymous visitor uploaded, in a child process with a time and a memory
limit (ECOPY_WEB_VERIFY_TIMEOUT_S, ECOPY_WEB_VERIFY_MEMORY_MB).

A hostile PDF (a deep object graph, a huge stream, a decompression bomb inside) must not take
the web server's memory or its threads. The child is forked from a forkserver that has
already imported the signature code, so a check starts in milliseconds, not seconds. It sets
its own address-space limit (RLIMIT_AS) first, then verifies; past the time limit the parent
kills it. The child holds no store and no database: the two questions a verification asks
of the evidence (is this register entry ours? is this copy cancelled?) are sent back over
the pipe and answered by the parent, from its own store.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from typing import Any

from ecopy.settings import Settings
from ecopy.web import verify_child
from signing.report_text import VerificationReport
from storage.backends import ObjectStore

_CONTEXT: Any = None
_LOCK = threading.Lock()


class VerifyLimit(RuntimeError):
    """The check went past its time or memory limit (`reason`: "time" or "memory")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _context() -> Any:
    global _CONTEXT
    with _LOCK:
        if _CONTEXT is None:
            ctx = multiprocessing.get_context("forkserver")
            # the server quiets the libraries and imports the signature code once
            ctx.set_forkserver_preload(["ecopy.web.verify_child"])
            _CONTEXT = ctx
    return _CONTEXT


def verify_isolated(data: bytes, settings: Settings, store: ObjectStore | None
                    ) -> VerificationReport:
    """The report of `data`, made in a child process within the configured limits; raises
    VerifyLimit past them and RuntimeError when the child failed otherwise."""
    from ecopy.keys import store_lookups

    lookups = store_lookups(store) if store is not None else (lambda _a: None,
                                                                lambda _a: None)
    answer = {"register": lookups[0], "cancellation": lookups[1]}
    ctx = _context()
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=verify_child.run, args=(child, data, settings,
                                            settings.web_verify_memory_mb), daemon=True)
    proc.start()
    child.close()
    deadline = time.monotonic() + settings.web_verify_timeout_s
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not parent.poll(left):
                raise VerifyLimit("time")
            try:
                message = parent.recv()
            except EOFError:  # killed (the kernel's OOM killer, a crash)
                proc.join(1)
                raise VerifyLimit("memory") from None
            if isinstance(message, verify_child.Ask):
                try:
                    parent.send(("ok", answer[message.kind](message.arg)))
                except Exception as exc:  # an unreadable entry (a missing key): the child
                    # reports it as the register check's problem, as the CLI does
                    parent.send(("error", f"{type(exc).__name__}: {str(exc)[:300]}"))
                continue
            kind, value = message
            if kind == "done":
                return value
            if kind == "limit":
                raise VerifyLimit(value)
            raise RuntimeError(value)
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent.close()
