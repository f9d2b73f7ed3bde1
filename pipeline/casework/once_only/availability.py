"""Reuse before asking: is a paper a dossier needs already held by the state?

Directive 27/CT-TTg, Notice 434/TB-VPCP ("provide information once") and Dispatch 159/TTg-CDS:
before a clerk asks a citizen for a paper, the system looks in the person's electronic data
warehouse (keyed by person, so it spans every commune of the deployment: procedures are
boundary-free within a province) and in the authoritative registers
(pipeline/casework/once_only/connectors.py).
A paper found valid there is attached to the dossier by reference; a paper still to be asked
for carries the reason it was not available (legal brief, requirement 18).

A warehouse copy is offered only when its type matches, it is not cancelled, the paper it
copies has not expired, and it is not a TEST copy (unless the deployment itself runs on test
keys). An external paper is offered when its type matches and it has not expired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from pipeline.casework.once_only.connectors import ExternalSource, SourceUnavailable
from storage.db import Database
from storage.db.catalogue import copies_of_person
from storage.db.dossiers import Dossier
from storage.db.paging import MAX_PAGE
from storage.db.papers import record_paper
from storage.evidence.audit import append_event
from storage.state import State

# why a needed paper could not be reused: stable codes, most telling first
UNAVAILABLE = ("cancelled", "expired", "test_copy", "source_unavailable", "not_held")
MESSAGES: dict[str, tuple[str, str]] = {
    "cancelled": ("Bản sao điện tử trong kho dữ liệu đã bị hủy chứng thực; cần xuất trình "
                  "bản chính để chứng thực lại.",
                  "The e-copy in the data warehouse was cancelled; the original must be "
                  "brought to be certified again."),
    "expired": ("Giấy tờ trong kho dữ liệu đã hết hạn sử dụng; cần giấy tờ còn hiệu lực.",
                "The paper held in the data warehouse has expired; a valid one is needed."),
    "test_copy": ("Chỉ có bản sao THỬ NGHIỆM (không có giá trị pháp lý) trong kho dữ liệu.",
                  "Only a TEST copy (not legally valid) is in the data warehouse."),
    "source_unavailable": ("Không tra cứu được {sources} lúc này; cần yêu cầu công dân cung "
                           "cấp hoặc thử lại sau.",
                           "{sources} could not be queried now; ask the citizen for the paper "
                           "or try again later."),
    "not_held": ("Kho dữ liệu của công dân và các cơ sở dữ liệu đã tra cứu ({sources}) chưa có "
                 "giấy tờ này.",
                 "Neither the citizen's data warehouse nor the registers queried ({sources}) "
                 "hold this paper."),
    "not_held_no_sources": ("Kho dữ liệu của công dân chưa có giấy tờ này (chưa kết nối cơ sở "
                            "dữ liệu quốc gia nào để tra cứu).",
                            "The citizen's data warehouse does not hold this paper (no national "
                            "register is connected to ask)."),
}


@dataclass(frozen=True)
class Availability:
    """The answer for one needed document type."""

    doc_type: str
    available: bool
    where: str = ""  # "warehouse" or the external source's name
    ref: str = ""  # warehouse copy id, or the register's reference
    agency: str = ""  # the commune that certified a warehouse copy
    issued: str = ""  # certified_at / issued_on
    valid_until: str = ""
    reason: str = ""  # one of UNAVAILABLE when not available
    sources_down: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (ref, why) seen

    def message(self, lang: str = "vi", source_titles: str = "") -> str:
        if self.available:
            return ""
        key = "not_held_no_sources" if self.reason == "not_held" and not source_titles \
            else self.reason
        vi, en = MESSAGES[key]
        return (en if lang == "en" else vi).format(sources=source_titles or "—")


def _warehouse_candidates(db: Database, person_id: str, doc_type: str, today: date,
                          test_mode: bool) -> tuple[list[object], list[tuple[str, str]]]:
    """The person's copies of the type (the catalogue: any commune of the deployment),
    sorted into usable ones and (copy id, why not) for the others."""
    good, skipped, cursor = [], [], ""
    with db.read() as s:
        while True:
            page = copies_of_person(s, person_id, doc_type=doc_type, cursor=cursor,
                                    limit=MAX_PAGE)
            for row in page.items:
                if row.cancelled:
                    skipped.append((row.copy_id, "cancelled"))
                elif row.expiry_date and row.expiry_date < today.isoformat():
                    skipped.append((row.copy_id, "expired"))
                elif row.test_mode and not test_mode:
                    skipped.append((row.copy_id, "test_copy"))
                else:
                    good.append(row)
            if not page.next_cursor:
                return good, skipped
            cursor = page.next_cursor


def find_available(db: Database, person_id: str, needs: Sequence[str],
                   sources: Sequence[ExternalSource], *, today: date,
                   test_mode: bool) -> list[Availability]:
    """One answer per needed type, in the order asked. The warehouse is asked first (a
    certified copy is what the procedure accepts), then each source in turn."""
    answers = []
    for doc_type in dict.fromkeys(needs):
        good, skipped = _warehouse_candidates(db, person_id, doc_type, today, test_mode)
        if good:
            best = good[-1]  # the newest: the catalogue lists the oldest first
            answers.append(Availability(
                doc_type, True, "warehouse", best.copy_id, best.agency,
                best.certified_at.isoformat(), best.expiry_date, skipped=tuple(skipped)))
            continue
        found, down = None, []
        for source in sources:
            try:
                papers = source.lookup(person_id, doc_type)
            except SourceUnavailable:
                down.append(source.name)
                continue
            for paper in papers:
                if paper.valid_until and paper.valid_until[:10] < today.isoformat():
                    skipped.append((f"{source.name}:{paper.reference}", "expired"))
                elif found is None:
                    found = paper
            if found is not None:
                break
        if found is not None:
            answers.append(Availability(doc_type, True, found.source, found.reference,
                                        issued=found.issued_on, valid_until=found.valid_until,
                                        sources_down=tuple(down), skipped=tuple(skipped)))
            continue
        seen = {why for _ref, why in skipped} | ({"source_unavailable"} if down else set())
        reason = next((r for r in UNAVAILABLE if r in seen), "not_held")
        answers.append(Availability(doc_type, False, reason=reason, sources_down=tuple(down),
                                    skipped=tuple(skipped)))
    return answers


def hit_rate(answers: Sequence[Availability]) -> float:
    return sum(a.available for a in answers) / len(answers) if answers else 0.0


def check_dossier_needs(state: State, dossier: Dossier, needs: Sequence[str],
                        sources: Sequence[ExternalSource], *, today: date, test_mode: bool,
                        actor: str) -> list[Availability]:
    """Answer the dossier's needs, attach what is available by reference, and log why the
    rest must be asked for (the answer per paper + one audit event each)."""
    answers = find_available(state.db, dossier.person_id, needs, sources, today=today,
                             test_mode=test_mode)
    titles = {source.name: source.title_vi for source in sources}
    store = state.store
    for a in answers:
        obj = f"dossiers/{dossier.agency}/{dossier.dossier_id}/papers/{a.doc_type}"
        if a.available:
            with state.db.write() as s:
                record_paper(s, dossier, a.doc_type, status="reused", by=actor, where=a.where,
                             ref=a.ref, agency=a.agency, issued=a.issued,
                             valid_until=a.valid_until)
            append_event(store, actor=actor, action="reuse.attach", object=obj,
                         details={"doc_type": a.doc_type, "where": a.where, "ref": a.ref})
        else:
            down = ", ".join(titles.get(n, n) for n in a.sources_down)
            all_titles = ", ".join(titles.values())
            with state.db.write() as s:
                record_paper(s, dossier, a.doc_type, status="requested", by=actor,
                             reason=a.reason, sources_down=list(a.sources_down),
                             skipped=[list(x) for x in a.skipped],
                             message=a.message("vi", down or all_titles),
                             message_en=a.message("en", down or all_titles))
            append_event(store, actor=actor, action="reuse.unavailable", object=obj,
                         details={"doc_type": a.doc_type, "reason": a.reason,
                                  "sources_down": list(a.sources_down),
                                  "skipped": [list(s) for s in a.skipped]})
    return answers
