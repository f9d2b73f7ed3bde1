"""Progress bars and the end-of-batch summary; driven by the orchestrator only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.types import DocStatus, DocumentOutcome

STATUS_VI = {
    DocStatus.FILED: "đã chứng thực", DocStatus.REJECTED: "bị từ chối",
    DocStatus.NEEDS_REVIEW: "cần kiểm tra", DocStatus.DUPLICATE: "đã có",
    DocStatus.READY: "chờ người chứng thực",
}
STATUS_STYLE = {DocStatus.FILED: "green", DocStatus.REJECTED: "red",
                DocStatus.NEEDS_REVIEW: "yellow", DocStatus.DUPLICATE: "cyan",
                DocStatus.READY: "blue"}


class RichProgress:
    def __init__(self, console: Console, enabled: bool = True) -> None:
        self.enabled = enabled
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                                  disable=not enabled, transient=False)
        self._docs = None
        self._pages = None

    def __enter__(self) -> RichProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._progress.__exit__(exc_type, exc, tb)

    def batch_started(self, documents: int) -> None:
        self._docs = self._progress.add_task("Tài liệu / documents", total=documents)
        self._pages = self._progress.add_task("Trang / pages", total=0)

    def document_started(self, name: str, pages: int) -> None:
        if self._pages is not None:
            task = self._progress.tasks[self._pages]
            self._progress.update(self._pages, total=(task.total or 0) + pages)

    def page_done(self, name: str) -> None:
        if self._pages is not None:
            self._progress.advance(self._pages)

    def document_done(self, outcome: DocumentOutcome) -> None:
        if self._docs is not None:
            self._progress.advance(self._docs)


def render_summary(console: Console, outcomes: Sequence[DocumentOutcome], store: str,
                   lang: str) -> None:
    vi = lang != "en"
    table = Table(title="Kết quả xử lý" if vi else "Batch result")
    for vi_name, en_name in (("Tệp", "File"), ("Kết quả", "Status"), ("Loại", "Type"),
                             ("Số CT", "Reg. no."), ("Mã lỗi", "Reason"),
                             ("Ghi chú", "Message")):
        table.add_column(vi_name if vi else en_name, overflow="fold")
    for o in outcomes:
        status = STATUS_VI.get(o.status, o.status) if vi else o.status.value
        note = o.message or (f"{'bản sao' if vi else 'copy'} {o.copy_id[:12]}…" if o.copy_id
                             else "")
        table.add_row(Path(o.source).name, f"[{STATUS_STYLE.get(o.status, '')}]{status}[/]",
                      o.doc_type, str(o.register_number or ""), o.reason, note)
    console.print(table)
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in DocStatus}
    if vi:
        console.print(f"Xong: {counts[DocStatus.FILED]} chứng thực, "
                      f"{counts[DocStatus.READY]} chờ người chứng thực, "
                      f"{counts[DocStatus.NEEDS_REVIEW]} cần kiểm tra, "
                      f"{counts[DocStatus.REJECTED]} bị từ chối, "
                      f"{counts[DocStatus.DUPLICATE]} đã có. Kho: {store}")
    else:
        console.print(f"Done: {counts[DocStatus.FILED]} filed, "
                      f"{counts[DocStatus.READY]} wait for a certifier, "
                      f"{counts[DocStatus.NEEDS_REVIEW]} need review, "
                      f"{counts[DocStatus.REJECTED]} rejected, "
                      f"{counts[DocStatus.DUPLICATE]} duplicates. Store: {store}")
