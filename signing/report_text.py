"""The verification report as values, and as text an auditor reads (vi by default, en).

Kept apart from verify.py so the report's shape and wording can be reviewed without reading
validation logic. Problems carry a stable code (for machines), the fact behind it, and both
messages, so the JSON form alone is enough to show a person what went wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from storage.evidence import to_jsonable

TOTAL_PASSED = "TOTAL-PASSED"
TOTAL_FAILED = "TOTAL-FAILED"
INDETERMINATE = "INDETERMINATE"
POLICY_NAME = "ecopy-default: PAdES B-T or higher, two signatures, revocation status required"
POLICY_SOFT_FAIL = "ecopy-soft-fail: PAdES B-T or higher, two signatures, revocation not required"
VALIDATOR_NAME = "ecopy signing"

_PROBLEMS: dict[str, tuple[str, str]] = {
    "unreadable": (
        "Không đọc được tệp PDF ({detail}).",
        "The PDF cannot be read ({detail}).",
    ),
    "structure_error": (
        "Cấu trúc PDF bất thường, không kiểm tra hết được ({detail}).",
        "The PDF structure is abnormal and could not be fully checked ({detail}).",
    ),
    "sig_unparsable": (
        "Không đọc được dữ liệu chữ ký ({detail}).",
        "The signature data cannot be parsed ({detail}).",
    ),
    "contents_encrypted": (
        "Giá trị chữ ký bị mã hóa cùng tài liệu, trái với ISO 32000.",
        "The signature value is encrypted with the document, which ISO 32000 forbids.",
    ),
    "sig_unverifiable": (
        "Không kiểm tra được chữ ký ({detail}).",
        "The signature could not be validated ({detail}).",
    ),
    "hash_failure": (
        "Nội dung đã bị thay đổi sau khi ký: mã băm không khớp.",
        "The signed content was altered: the hash does not match.",
    ),
    "crypto_failure": (
        "Giá trị chữ ký không hợp lệ về mật mã.",
        "The signature value is cryptographically invalid.",
    ),
    "modified": (
        "Bị sửa đổi sau khi ký: {detail}.",
        "Modified after signing: {detail}.",
    ),
    "revoked": ("Chứng thư số đã bị thu hồi.", "The certificate has been revoked."),
    "untrusted": (
        "Không xây dựng được chuỗi chứng thư tới gốc tin cậy ({detail}).",
        "No certificate chain to a trusted root ({detail}).",
    ),
    "cert_validity": (
        "Chứng thư số không có hiệu lực tại thời điểm ký ({detail}).",
        "The certificate was not within its validity period at signing time ({detail}).",
    ),
    "no_revocation_data": (
        "Chưa xác định được tình trạng thu hồi của chứng thư số: bản sao không mang dữ liệu "
        "thu hồi (PAdES B-LT) và không có CRL/OCSP nào được cung cấp. Hãy kiểm tra lại với "
        "--fetch (có mạng) hoặc --crl.",
        "The revocation status of the certificates could not be established: the copy carries "
        "no revocation data (PAdES B-LT) and no CRL/OCSP was given. Verify again with --fetch "
        "(online) or --crl.",
    ),
    "no_timestamp": (
        "Chữ ký không có dấu thời gian; chính sách yêu cầu PAdES B-T.",
        "The signature has no timestamp; the policy requires PAdES B-T.",
    ),
    "bad_timestamp": (
        "Dấu thời gian không hợp lệ hoặc không tin cậy ({detail}).",
        "The timestamp is invalid or untrusted ({detail}).",
    ),
    "no_signature": ("Tệp không có chữ ký số.", "The file carries no signature."),
    "too_few": (
        "Bản sao điện tử cần hai chữ ký (người chứng thực và cơ quan).",
        "An e-copy needs two signatures (certifier and agency).",
    ),
    "manifest_missing": (
        "Không có tệp đính kèm manifest.json.",
        "The embedded manifest.json is missing.",
    ),
    "manifest_changed": (
        "manifest.json khác với bản đã được ký.",
        "manifest.json differs from the signed one.",
    ),
    "manifest_pages": (
        "Số trang không khớp với manifest.json ({detail}).",
        "The page count does not match manifest.json ({detail}).",
    ),
    "register_missing": (
        "Không tìm thấy số chứng thực trong sổ chứng thực.",
        "The register entry was not found in the register.",
    ),
    "register_mismatch": (
        "Thông tin trong sổ chứng thực khác với bản sao.",
        "The register holds a different entry for this copy.",
    ),
    "cancelled": (
        "Bản sao đã bị hủy chứng thực theo quyết định ({detail}).",
        "The certification of this copy was cancelled by a decision ({detail}).",
    ),
}


@dataclass(frozen=True)
class Problem:
    code: str
    detail: str
    message_vi: str
    message_en: str


def problem(code: str, *, detail: str = "") -> Problem:
    vi, en = _PROBLEMS[code]
    return Problem(code, detail, vi.format(detail=detail), en.format(detail=detail))


@dataclass(frozen=True)
class SignatureReport:
    """One signature, as ETSI EN 319 102-1 asks an auditor to see it."""

    field_name: str
    signer_cn: str
    organisation: str
    certificate_serial: str  # hex
    issuer: str
    chain: tuple[str, ...]  # subject CNs, signer first, root last
    trusted: bool
    chain_is_test: bool
    signing_time: str | None  # signer-reported, not proof
    timestamp_time: str | None  # RFC 3161, the proof of time
    tsa_name: str | None
    timestamp_valid: bool | None  # None: no timestamp
    revision: int
    byte_range: tuple[int, ...]
    coverage: str  # ENTIRE_FILE / ENTIRE_REVISION / CONTIGUOUS_BLOCK_FROM_START / UNCLEAR
    is_certification: bool
    docmdp_permission: str | None
    modification_level: str | None  # NONE / LTA_UPDATES / FORM_FILLING / ANNOTATIONS / OTHER
    docmdp_ok: bool | None
    pades_level: str
    indication: str
    sub_indication: str | None
    revocation: str
    problems: tuple[Problem, ...]

    @classmethod
    def broken(cls, field_name: str, why: Problem) -> SignatureReport:
        """A signature too damaged to read still appears, so it cannot silently vanish."""
        return cls(
            field_name=field_name,
            signer_cn="",
            organisation="",
            certificate_serial="",
            issuer="",
            chain=(),
            trusted=False,
            chain_is_test=False,
            signing_time=None,
            timestamp_time=None,
            tsa_name=None,
            timestamp_valid=None,
            revision=-1,
            byte_range=(),
            coverage="UNKNOWN",
            is_certification=False,
            docmdp_permission=None,
            modification_level=None,
            docmdp_ok=None,
            pades_level="UNKNOWN",
            indication=TOTAL_FAILED,
            sub_indication="FORMAT_FAILURE",
            revocation="not checked",
            problems=(why,),
        )


@dataclass(frozen=True)
class VerificationReport:
    document_sha256: str
    file_size: int
    validator: str
    validator_version: str
    validation_time: str
    policy: str
    indication: str
    sub_indication: str | None
    problems: tuple[Problem, ...] = ()
    is_test: bool = False
    revisions: int = 0
    signatures: tuple[SignatureReport, ...] = ()
    manifest_present: bool = False
    manifest_consistent: bool = False
    register_entry: dict[str, Any] | None = None
    register_status: str = "not_checked"  # found / missing / mismatch / not_checked
    cancellation: dict[str, Any] | None = None  # the cancelling decision, when cancelled

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)


_LABELS = {
    "vi": {
        "banner": "BẢN THỬ NGHIỆM — KHÔNG CÓ GIÁ TRỊ PHÁP LÝ",
        "title": "BÁO CÁO XÁC THỰC BẢN SAO ĐIỆN TỬ",
        TOTAL_PASSED: "HỢP LỆ",
        TOTAL_FAILED: "KHÔNG HỢP LỆ",
        INDETERMINATE: "CHƯA XÁC ĐỊNH",
        "verdict": "Kết luận",
        "sha256": "Mã băm SHA-256",
        "size": "Kích thước (byte)",
        "time": "Thời điểm kiểm tra",
        "policy": "Chính sách",
        "validator": "Phần mềm kiểm tra",
        "signature": "Chữ ký",
        "signer": "Người ký",
        "org": "Cơ quan",
        "serial": "Số hiệu chứng thư",
        "issuer": "Tổ chức cấp",
        "chain": "Chuỗi chứng thư",
        "trusted": "Tin cậy",
        "signing_time": "Thời gian ký (tự khai)",
        "timestamp": "Dấu thời gian",
        "tsa": "Đơn vị cấp dấu thời gian",
        "coverage": "Phạm vi ký",
        "certification": "Chữ ký chứng nhận (DocMDP)",
        "modification": "Thay đổi sau khi ký",
        "level": "Mức PAdES",
        "revocation": "Thu hồi",
        "register": "Sổ chứng thực",
        "manifest": "manifest.json nhất quán",
        "problems": "Vấn đề",
        "cancelled": "Đã hủy chứng thực",
        "yes": "có",
        "no": "không",
        "none": "không có",
    },
    "en": {
        "banner": "TEST — not legally valid",
        "title": "E-COPY VERIFICATION REPORT",
        TOTAL_PASSED: "VALID",
        TOTAL_FAILED: "NOT VALID",
        INDETERMINATE: "INDETERMINATE",
        "verdict": "Verdict",
        "sha256": "SHA-256",
        "size": "Size (bytes)",
        "time": "Validation time",
        "policy": "Policy",
        "validator": "Validator",
        "signature": "Signature",
        "signer": "Signer",
        "org": "Organisation",
        "serial": "Certificate serial",
        "issuer": "Issuer",
        "chain": "Chain",
        "trusted": "Trusted",
        "signing_time": "Signing time (claimed)",
        "timestamp": "Timestamp",
        "tsa": "TSA",
        "coverage": "Coverage",
        "certification": "Certification signature (DocMDP)",
        "modification": "Changes after signing",
        "level": "PAdES level",
        "revocation": "Revocation",
        "register": "Register",
        "manifest": "manifest.json consistent",
        "problems": "Problems",
        "cancelled": "Certification cancelled",
        "yes": "yes",
        "no": "no",
        "none": "none",
    },
}


_REGISTER_STATUS = {
    "vi": {"found": "có trong sổ, khớp", "missing": "KHÔNG có trong sổ",
           "mismatch": "KHÁC với sổ", "not_checked": "chưa đối chiếu với sổ (dùng --store)"},
    "en": {"found": "in the register, matching", "missing": "NOT in the register",
           "mismatch": "DIFFERS from the register",
           "not_checked": "not checked against the register (use --store)"},
}


def _register_line(report: VerificationReport, lang: str) -> str:
    key = "en" if lang == "en" else "vi"
    status = _REGISTER_STATUS[key].get(report.register_status, report.register_status)
    entry = report.register_entry
    if not entry:
        return status
    words = (("Số {}", "Quyển số {}-SCT/BS", "ngày {}", "{}") if key == "vi"
             else ("No. {}", "book {}-SCT/BS", "{}", "{}"))
    parts = [form.format(entry[name]) for form, name in
             zip(words, ("number", "book", "date", "agency_name"), strict=True)
             if entry.get(name) not in (None, "")]  # a damaged entry prints what it has
    return f"{', '.join(parts)} — {status}" if parts else status


# The report's values are machine words (pyHanko's and ETSI's names, kept as they are in the
# JSON form); the Vietnamese text says each in Vietnamese. ETSI indications stay in brackets
# after their Vietnamese word: they are the identifiers an auditor's other tools print.
_VI_VALUES: dict[str, dict[str, str]] = {
    "coverage": {
        "ENTIRE_FILE": "toàn bộ tệp",
        "ENTIRE_REVISION": "toàn bộ phiên bản được ký (phần thêm sau là phần được phép thêm)",
        "CONTIGUOUS_BLOCK_FROM_START": "một khối liền từ đầu tệp, không phải toàn bộ phiên bản",
        "UNCLEAR": "không rõ",
        "UNKNOWN": "không xác định",
    },
    "modification": {
        "NONE": "không có",
        "LTA_UPDATES": "chỉ bổ sung dữ liệu xác thực dài hạn và dấu thời gian",
        "FORM_FILLING": "điền biểu mẫu",
        "ANNOTATIONS": "thêm ghi chú",
        "OTHER": "thay đổi khác",
    },
    "docmdp": {
        "NO_CHANGES": "không cho phép thay đổi",
        "FILL_FORMS": "cho phép điền biểu mẫu và ký tiếp",
        "ANNOTATE": "cho phép điền biểu mẫu, ghi chú và ký tiếp",
    },
    "revocation_mode": {
        "soft-fail": "bỏ qua khi không có dữ liệu",
        "hard-fail": "từ chối khi dữ liệu cho thấy lỗi",
        "require": "bắt buộc có dữ liệu thu hồi",
    },
    "revocation_outcome": {
        "REVOKED": "ĐÃ BỊ THU HỒI",
        "not revoked": "chưa bị thu hồi",
        "not established": "không xác định được",
    },
}
_POLICY_VI = {
    POLICY_NAME: "ecopy mặc định: PAdES B-T trở lên, hai chữ ký, bắt buộc xác định tình trạng "
                 "thu hồi",
    POLICY_SOFT_FAIL: "ecopy nới lỏng: PAdES B-T trở lên, hai chữ ký, không bắt buộc dữ liệu "
                      "thu hồi",
}
_NOT_CHECKED = "not checked"
_REVOCATION_CHECKED = re.compile(r"^checked \(([\w-]+)\): (.+) at (.+)$")


def _vi_value(kind: str, value: str | None, none: str) -> str:
    if value is None:
        return none
    return _VI_VALUES[kind].get(value, value)


def _vi_revocation(value: str) -> str:
    """The revocation line of a signature in Vietnamese (see signing.verify)."""
    if value.startswith(_NOT_CHECKED):
        return ("chưa kiểm tra: không có dữ liệu thu hồi (chính sách nới lỏng cho phép)"
                if "no revocation data" in value else "chưa kiểm tra")
    m = _REVOCATION_CHECKED.match(value)
    if not m:
        return value
    mode, outcome, at = m.groups()
    return (f"đã kiểm tra ({_vi_value('revocation_mode', mode, mode)}): "
            f"{_vi_value('revocation_outcome', outcome, outcome)}, lúc {at}")


def policy_name(revocation: str) -> str:
    """The policy a verification ran under, named by its revocation mode."""
    return POLICY_SOFT_FAIL if revocation == "soft-fail" else POLICY_NAME


def policy_words(report: VerificationReport, lang: str) -> str:
    return report.policy if lang == "en" else _POLICY_VI.get(report.policy, report.policy)


def cancellation_words(report: VerificationReport, lang: str) -> str:
    """The decision that cancelled the copy, as a person reads it ("" when not cancelled)."""
    c = report.cancellation or {}
    if not c:
        return ""
    if lang == "en":
        return (f"decision {c.get('decision_ref', '?')} of {c.get('decision_date', '?')}: "
                f"{c.get('reason', '')}")
    return (f"theo Quyết định số {c.get('decision_ref', '?')} ngày "
            f"{c.get('decision_date', '?')}: {c.get('reason', '')}")


# asn1crypto's names of the attributes of a distinguished name, as a Vietnamese reader sees them
_VI_NAME_PARTS = {
    "Common Name": "Tên", "Organizational Unit": "Đơn vị", "Organization": "Tổ chức",
    "Country": "Quốc gia", "Title": "Chức danh", "Locality": "Địa phương",
    "State/Province": "Tỉnh/Thành phố", "Street Address": "Địa chỉ", "Surname": "Họ",
    "Given Name": "Tên riêng", "Serial Number": "Số hiệu", "Email Address": "Thư điện tử",
    "User ID": "Mã định danh", "Organization Identifier": "Mã tổ chức",
}
_NAME_PART = re.compile(r"(^|, )(" + "|".join(map(re.escape, _VI_NAME_PARTS)) + r"): ")


def _vi_name(name: str) -> str:
    return _NAME_PART.sub(lambda m: f"{m.group(1)}{_VI_NAME_PARTS[m.group(2)]}: ", name)


def signature_words(sig: SignatureReport, lang: str) -> dict[str, str]:
    """The values of a signature a person reads, in their language: coverage, DocMDP
    permission ("" when none), changes after signing, revocation, issuer. Both renderers
    use it."""
    none = _LABELS["en" if lang == "en" else "vi"]["none"]
    if lang == "en":
        return {"coverage": sig.coverage, "docmdp": sig.docmdp_permission or "",
                "modification": sig.modification_level or none,
                "revocation": sig.revocation, "issuer": sig.issuer}
    return {"coverage": _vi_value("coverage", sig.coverage, none),
            "docmdp": _vi_value("docmdp", sig.docmdp_permission, ""),
            "modification": _vi_value("modification", sig.modification_level, none),
            "revocation": _vi_revocation(sig.revocation), "issuer": _vi_name(sig.issuer)}


def render_text(report: VerificationReport, lang: str = "vi") -> str:
    """Plain text for people; a test copy says so on its first line, before anything else."""
    t = _LABELS["en" if lang == "en" else "vi"]

    def yn(flag: bool | None) -> str:
        return t["none"] if flag is None else (t["yes"] if flag else t["no"])

    def indic(value: str, sub: str | None) -> str:
        words = t.get(value, value)
        return f"{words} ({value}{' / ' + sub if sub else ''})"

    lines: list[str] = []
    if report.is_test:
        lines += [f"*** {t['banner']} ***", ""]
    lines += [
        t["title"],
        f"{t['verdict']}: {indic(report.indication, report.sub_indication)}",
        f"{t['sha256']}: {report.document_sha256}",
        f"{t['size']}: {report.file_size}",
        f"{t['time']}: {report.validation_time}",
        f"{t['policy']}: {policy_words(report, lang)}",
        f"{t['validator']}: {report.validator} ({report.validator_version})",
        f"{t['register']}: {_register_line(report, lang)}",
        f"{t['manifest']}: {yn(report.manifest_consistent)}",
    ]
    if report.cancellation:
        lines.append(f"{t['cancelled']}: {cancellation_words(report, lang)}")
    for i, sig in enumerate(report.signatures, 1):
        words = signature_words(sig, lang)
        lines += [
            "",
            f"{t['signature']} {i}: {sig.field_name} — {indic(sig.indication, sig.sub_indication)}",
            f"  {t['signer']}: {sig.signer_cn}",
            f"  {t['org']}: {sig.organisation}",
            f"  {t['serial']}: {sig.certificate_serial}",
            f"  {t['issuer']}: {words['issuer']}",
            f"  {t['chain']}: {' → '.join(sig.chain)}",
            f"  {t['trusted']}: {yn(sig.trusted)}",
            f"  {t['signing_time']}: {sig.signing_time or t['none']}",
            f"  {t['timestamp']}: {sig.timestamp_time or t['none']}"
            + (f" ({yn(sig.timestamp_valid)})" if sig.timestamp_time else ""),
            f"  {t['tsa']}: {sig.tsa_name or t['none']}",
            f"  {t['coverage']}: {words['coverage']} {list(sig.byte_range)}",
            f"  {t['certification']}: {yn(sig.is_certification)}"
            + (f" ({words['docmdp']})" if words["docmdp"] else ""),
            f"  {t['modification']}: {words['modification']}",
            f"  {t['level']}: {sig.pades_level}",
            f"  {t['revocation']}: {words['revocation']}",
        ]
    if report.problems:
        lines += ["", f"{t['problems']}:"]
        key = "message_en" if lang == "en" else "message_vi"
        lines += [f"  - {getattr(p, key)}" for p in report.problems]
    return "\n".join(lines) + "\n"
