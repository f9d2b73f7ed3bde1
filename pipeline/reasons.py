"""Every reason code ecopy can give, with the message a clerk reads (vi) and its English twin.

One module on purpose: reason codes are an API (stored in records, shown in reports, matched by
scripts), so they must be found, reviewed and kept stable in one place.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # intake: the file itself
    WRONG_FILE_TYPE = "wrong_file_type"
    CORRUPT_FILE = "corrupt_file"
    EMPTY_FILE = "empty_file"
    FILE_NOT_FOUND = "file_not_found"
    FILE_TOO_LARGE = "file_too_large"
    TOO_MANY_PAGES = "too_many_pages"
    TOO_MANY_PIXELS = "too_many_pixels"
    ENCRYPTED = "encrypted"
    ALREADY_SIGNED = "already_signed"
    DYNAMIC_FORM = "dynamic_form"
    TIMEOUT = "timeout"
    # quality and content (Decree 23/2015 Art 22 refusal grounds among them)
    LOW_RESOLUTION = "low_resolution"
    BLURRY = "blurry"
    TOO_DARK = "too_dark"
    TOO_LIGHT = "too_light"
    SKEWED = "skewed"
    BLANK_PAGE = "blank_page"
    ILLEGIBLE = "illegible"
    CLASSIFIED = "classified"
    REFUSED_BY_CLERK = "refused_by_clerk"
    OCR_FAILED = "ocr_failed"
    # input to the command
    INVALID_PERSON_ID = "invalid_person_id"
    INVALID_COMMUNE = "invalid_commune"
    # review (not a rejection: the document waits for a clerk)
    UNKNOWN_DOCUMENT_TYPE = "unknown_document_type"
    LOW_CONFIDENCE = "low_confidence"
    ID_MISMATCH = "id_mismatch"
    FIELD_CONFLICT = "field_conflict"
    OUTDATED_PROOF = "outdated_proof"  # a household book or a 9-digit CMND
    MIXED_DOCUMENTS = "mixed_documents"  # one file, several papers: one number each
    SPLIT_INTO_PAPERS = "split_into_papers"  # the clerk split the file: each part a new case
    # certification / signing
    SIGNING_FAILED = "signing_failed"
    REGISTER_CONFLICT = "register_conflict"


MESSAGES: dict[Reason, tuple[str, str]] = {
    Reason.WRONG_FILE_TYPE: (
        "Tệp không phải PDF, JPEG, PNG hay TIFF. Hãy quét lại và lưu ở một trong các định dạng đó.",
        "The file is not a PDF, JPEG, PNG or TIFF. Scan again and save in one of those formats.",
    ),
    Reason.CORRUPT_FILE: (
        "Tệp bị hỏng, không đọc được. Hãy quét hoặc xuất lại tệp từ máy quét.",
        "The file is damaged and cannot be read. Scan or export it again from the scanner.",
    ),
    Reason.FILE_NOT_FOUND: (
        "Không tìm thấy tệp hoặc không có quyền đọc. Hãy kiểm tra đường dẫn.",
        "The file does not exist or cannot be read. Check the path.",
    ),
    Reason.EMPTY_FILE: (
        "Tệp rỗng hoặc không có trang nào. Hãy kiểm tra lại tệp đã chọn.",
        "The file is empty or has no pages. Check that you picked the right file.",
    ),
    Reason.FILE_TOO_LARGE: (
        "Tệp vượt quá dung lượng cho phép ({limit}). Hãy quét ở 300 dpi, nén JPEG, hoặc tách tệp.",
        "The file exceeds the size limit ({limit}). Scan at 300 dpi with JPEG compression "
        "or split the file.",
    ),
    Reason.TOO_MANY_PAGES: (
        "Tệp có {pages} trang, vượt giới hạn {limit} trang. Hãy tách thành nhiều tệp.",
        "The file has {pages} pages, over the limit of {limit}. Split it into several files.",
    ),
    Reason.TOO_MANY_PIXELS: (
        "Ảnh quá lớn ({pixels} điểm ảnh, giới hạn {limit}); có thể là tệp độc hại. "
        "Hãy quét lại ở 300 dpi.",
        "The image is too large ({pixels} pixels, limit {limit}); it may be a decompression "
        "bomb. Scan again at 300 dpi.",
    ),
    Reason.ENCRYPTED: (
        "Tệp PDF có mật khẩu. Hãy gỡ mật khẩu hoặc quét lại bản giấy.",
        "The PDF is password-protected. Remove the password or scan the paper again.",
    ),
    Reason.ALREADY_SIGNED: (
        "Tệp PDF đã có chữ ký số; chứng thực lại sẽ làm mất chữ ký. Hãy dùng bản giấy, hoặc chạy "
        "lại với --accept-signed nếu chỉ cần hình ảnh của giấy tờ.",
        "The PDF already carries a digital signature that re-rendering would destroy. Use the "
        "paper original, or run again with --accept-signed to treat it as an image of the paper.",
    ),
    Reason.DYNAMIC_FORM: (
        "Tệp PDF là biểu mẫu động (XFA), không phải bản quét. Hãy in ra giấy rồi quét.",
        "The PDF is a dynamic (XFA) form, not a scan. Print it and scan the paper.",
    ),
    Reason.TIMEOUT: (
        "Xử lý tệp quá thời gian cho phép ({limit} giây). Hãy quét lại với độ phân giải thấp hơn.",
        "Processing took longer than the limit ({limit} s). Scan again at a lower resolution.",
    ),
    Reason.LOW_RESOLUTION: (
        "Độ phân giải {dpi} dpi thấp hơn mức tối thiểu {limit} dpi (Nghị định 30/2020, Phụ lục "
        "I). Hãy quét lại bản chính ở ít nhất 200 dpi, chế độ màu, tỉ lệ 100 %.",
        "Resolution {dpi} dpi is below the minimum of {limit} dpi (Decree 30/2020, Annex I). "
        "Scan the original again at 200 dpi or more, in colour, at 100 % scale.",
    ),
    Reason.FIELD_CONFLICT: (
        "Các thông tin trên giấy tờ mâu thuẫn nhau ({detail}). Hãy đối chiếu với bản chính.",
        "Fields on the paper contradict each other ({detail}). Check them against the "
        "original.",
    ),
    Reason.MIXED_DOCUMENTS: (
        "Tệp có {count} giấy tờ khác nhau ({split}). Mỗi bản chính được cấp một số chứng thực "
        "riêng: hãy tách tệp và tải lên từng giấy; nếu đây thật là một giấy, hãy xác nhận khi "
        "duyệt.",
        "The file holds {count} different papers ({split}). Each original gets its own "
        "certification number: split the file and upload each paper; if it really is one "
        "paper, confirm it in review.",
    ),
    Reason.SPLIT_INTO_PAPERS: (
        "Tệp đã được tách thành {count} giấy tờ ({split}); mỗi giấy là một hồ sơ riêng và được "
        "cấp số chứng thực riêng. Tệp gốc vẫn được lưu làm chứng cứ.",
        "The file was split into {count} papers ({split}); each paper is a case of its own "
        "with its own certification number. The uploaded file stays stored as evidence.",
    ),
    Reason.OUTDATED_PROOF: (
        "Giấy tờ là {paper}, không còn giá trị chứng minh từ ngày {since}. Bản sao vẫn có thể "
        "được chứng thực nếu đúng với bản chính; hãy báo người yêu cầu rằng nơi nhận không dùng "
        "được giấy này làm giấy tờ chứng minh.",
        "The paper is a {paper_en}, no longer valid proof since {since}. A true copy may still "
        "be certified; tell the requester that it will not be accepted as proof.",
    ),
    Reason.BLURRY: (
        "Ảnh quét bị mờ (độ nét {sharpness}, cần từ {limit}). Hãy giữ giấy phẳng, lau kính máy "
        "quét và quét lại.",
        "The scan is blurred (sharpness {sharpness}, {limit} needed). Keep the paper flat, clean "
        "the scanner glass and scan again.",
    ),
    Reason.TOO_DARK: (
        "Ảnh quét quá tối (nền giấy ở mức xám {level}/255). Hãy tăng độ sáng và quét lại.",
        "The scan is too dark (paper at grey level {level}/255). Raise the brightness and scan "
        "again.",
    ),
    Reason.TOO_LIGHT: (
        "Ảnh quét quá nhạt, chữ gần như không thấy (độ tương phản {contrast}/255). Hãy giảm độ "
        "sáng hoặc quét ở chế độ màu và quét lại.",
        "The scan is too faint to read (contrast {contrast}/255). Lower the brightness or scan "
        "in colour, and scan again.",
    ),
    Reason.SKEWED: (
        "Trang bị quét nghiêng {angle}°. Hãy đặt giấy thẳng và quét lại nếu chữ bị cắt.",
        "The page is scanned at a {angle}° slant. Place the paper straight and scan again if "
        "text is cut off.",
    ),
    Reason.BLANK_PAGE: (
        "Trang {page} trống. Hãy kiểm tra mặt giấy được quét hoặc bỏ trang trống.",
        "Page {page} is blank. Check which side was scanned, or remove the blank page.",
    ),
    Reason.ILLEGIBLE: (
        "Không đọc được nội dung (độ tin cậy {conf}%). Bản chính hư hỏng hoặc quét mờ: từ chối "
        "chứng thực theo Điều 22 Nghị định 23/2015, hoặc quét lại rõ hơn.",
        "The content cannot be read (confidence {conf}%). The original is damaged or the scan "
        "is blurred: refuse (Decree 23/2015 Art 22) or scan again more sharply.",
    ),
    Reason.CLASSIFIED: (
        'Giấy tờ có dấu "{stamp}": không được chứng thực bản sao (Điều 22 Nghị định 23/2015).',
        'The paper carries a "{stamp}" stamp: it may not be copied (Decree 23/2015 Art 22).',
    ),
    Reason.REFUSED_BY_CLERK: (
        "Công chức từ chối chứng thực: {ground} (Điều 22 Nghị định 23/2015). Lý do đã được ghi "
        "vào sổ chứng thực.",
        "The clerk refused certification: {ground} (Decree 23/2015 Art 22). The reason is "
        "recorded in the register notes.",
    ),
    Reason.OCR_FAILED: (
        "Nhận dạng chữ thất bại ở trang {page}: {detail}. Hãy thử lại; nếu lặp lại, báo quản trị.",
        "Text recognition failed on page {page}: {detail}. Try again; if it repeats, tell the "
        "administrator.",
    ),
    Reason.INVALID_PERSON_ID: (
        'Số định danh cá nhân "{value}" không hợp lệ: {detail}.',
        'Personal ID "{value}" is not valid: {detail}.',
    ),
    Reason.INVALID_COMMUNE: (
        'Mã xã "{value}" không hợp lệ: cần 5 chữ số theo Quyết định 19/2025/QĐ-TTg.',
        'Commune code "{value}" is not valid: 5 digits per Decision 19/2025/QĐ-TTg.',
    ),
    Reason.UNKNOWN_DOCUMENT_TYPE: (
        "Chưa xác định được loại giấy tờ; cần công chức chọn loại.",
        "The document type could not be determined; a clerk must choose it.",
    ),
    Reason.LOW_CONFIDENCE: (
        "Máy chưa chắc chắn ({detail}); cần công chức kiểm tra.",
        "The machine is unsure ({detail}); a clerk must check.",
    ),
    Reason.ID_MISMATCH: (
        "Số định danh trên giấy tờ ({found}) khác số của hồ sơ ({expected}); cần kiểm tra.",
        "The ID on the paper ({found}) differs from the dossier's ({expected}); check it.",
    ),
    Reason.SIGNING_FAILED: (
        "Ký số thất bại: {detail}. Bản chính vẫn được lưu; hãy kiểm tra khóa ký rồi chạy lại.",
        "Signing failed: {detail}. The original is kept; check the signing key and run again.",
    ),
    Reason.REGISTER_CONFLICT: (
        "Không cấp được số chứng thực sau nhiều lần thử; hãy chạy lại.",
        "Could not allocate a register number after many attempts; run again.",
    ),
}


def message(reason: Reason, lang: str = "vi", **params: object) -> str:
    vi, en = MESSAGES[reason]
    template = en if lang == "en" else vi
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


# Decree 23/2015 Art 22 refusal grounds: the reason is recorded (refusal record, register note)
REFUSAL_REASONS = frozenset({Reason.CLASSIFIED, Reason.ILLEGIBLE, Reason.REFUSED_BY_CLERK})

# Short names of the reasons for tables and published figures (no parameters to fill in).
LABELS: dict[str, tuple[str, str]] = {
    Reason.WRONG_FILE_TYPE: ("Sai định dạng tệp", "Wrong file type"),
    Reason.CORRUPT_FILE: ("Tệp bị hỏng", "Damaged file"),
    Reason.EMPTY_FILE: ("Tệp rỗng", "Empty file"),
    Reason.FILE_NOT_FOUND: ("Không tìm thấy tệp", "File not found"),
    Reason.FILE_TOO_LARGE: ("Tệp quá lớn", "File too large"),
    Reason.TOO_MANY_PAGES: ("Quá nhiều trang", "Too many pages"),
    Reason.TOO_MANY_PIXELS: ("Ảnh quá lớn", "Image too large"),
    Reason.ENCRYPTED: ("PDF có mật khẩu", "Password-protected PDF"),
    Reason.ALREADY_SIGNED: ("PDF đã có chữ ký số", "PDF already signed"),
    Reason.DYNAMIC_FORM: ("Biểu mẫu động (XFA)", "Dynamic (XFA) form"),
    Reason.TIMEOUT: ("Quá thời gian xử lý", "Processing timed out"),
    Reason.LOW_RESOLUTION: ("Độ phân giải thấp", "Low resolution"),
    Reason.BLURRY: ("Ảnh quét bị mờ", "Blurred scan"),
    Reason.TOO_DARK: ("Ảnh quét quá tối", "Scan too dark"),
    Reason.TOO_LIGHT: ("Ảnh quét quá nhạt", "Scan too faint"),
    Reason.SKEWED: ("Trang bị nghiêng", "Skewed page"),
    Reason.BLANK_PAGE: ("Trang trống", "Blank page"),
    Reason.ILLEGIBLE: ("Không đọc được nội dung", "Illegible"),
    Reason.CLASSIFIED: ("Có dấu mật / cấm sao chụp", "Secret or no-copy stamp"),
    Reason.REFUSED_BY_CLERK: ("Từ chối theo Điều 22 NĐ 23/2015", "Refused (Decree 23/2015 Art 22)"),
    Reason.OCR_FAILED: ("Nhận dạng chữ thất bại", "Text recognition failed"),
    Reason.INVALID_PERSON_ID: ("Số định danh không hợp lệ", "Invalid personal ID"),
    Reason.INVALID_COMMUNE: ("Mã xã không hợp lệ", "Invalid commune code"),
    Reason.UNKNOWN_DOCUMENT_TYPE: ("Chưa xác định loại giấy tờ", "Unknown document type"),
    Reason.LOW_CONFIDENCE: ("Máy chưa chắc chắn", "Low confidence"),
    Reason.ID_MISMATCH: ("Số định danh không khớp", "ID mismatch"),
    Reason.FIELD_CONFLICT: ("Thông tin mâu thuẫn", "Conflicting fields"),
    Reason.OUTDATED_PROOF: ("Giấy tờ hết giá trị chứng minh", "No longer valid proof"),
    Reason.MIXED_DOCUMENTS: ("Nhiều giấy tờ trong một tệp", "Several papers in one file"),
    Reason.SPLIT_INTO_PAPERS: ("Đã tách thành từng giấy", "Split into papers"),
    Reason.SIGNING_FAILED: ("Ký số thất bại", "Signing failed"),
    Reason.REGISTER_CONFLICT: ("Không cấp được số chứng thực", "Register number conflict"),
}


# Decree 23/2015 Art 22: the grounds on which a certifier must refuse (domain.md). A refusal
# by a certifier is recorded with one of these codes (record "ground_code"), so published
# figures can count refusals per ground; figures show it as "refused_by_clerk:<ground>".
REFUSAL_GROUNDS: dict[str, tuple[str, str]] = {
    "altered": ("Bản chính bị tẩy xóa, sửa chữa, thêm, bớt nội dung không hợp lệ",
                "The original is erased, altered or has unlawful additions"),
    "damaged": ("Bản chính bị hư hỏng, cũ nát, không xác định được nội dung",
                "The original is damaged or worn so its content cannot be read"),
    "secret": ("Bản chính đóng dấu mật hoặc ghi rõ không được sao chụp",
               "The original is stamped secret (MẬT) or marked not to be copied"),
    "unlawful": ("Bản chính có nội dung trái pháp luật, đạo đức xã hội",
                 "The original has unlawful content or content against social ethics"),
    "foreign": ("Giấy tờ do cơ quan nước ngoài cấp chưa được hợp pháp hóa lãnh sự",
                "A foreign paper that has not been legalised"),
    "self_made": ("Giấy tờ do cá nhân tự lập, không có xác nhận và đóng dấu của cơ quan có "
                  "thẩm quyền", "A self-made paper without an authority's certification and "
                                "seal"),
    # Circular 01/2020/TT-BTP Art 11: refused, and a violation record made, the paper kept
    "forged": ("Bản chính có dấu hiệu giả mạo: lập biên bản vi phạm, tạm giữ giấy tờ và chuyển "
               "cơ quan có thẩm quyền xử lý", "The original appears forged: a violation record "
               "is made, the paper kept and the matter handed to the competent authority"),
}


def ground_text(code: str, detail: str = "") -> str:
    """An Art 22 ground as the requester is told it: its Vietnamese wording, then what the
    certifier added ("Bản chính bị tẩy xóa, … — tẩy xóa ở mục ngày sinh")."""
    return REFUSAL_GROUNDS[code][0] + (f" — {detail}" if detail else "")


def label(code: str, lang: str = "vi") -> str:
    """The short name of a reason code ("refused_by_clerk:<ground>" names the Art 22
    ground too); an unknown code (e.g. from a newer version) as is."""
    base, _, ground = code.partition(":")
    pair = LABELS.get(base)
    if pair is None:
        return code
    name = pair[1] if lang == "en" else pair[0]
    if ground in REFUSAL_GROUNDS:
        name += ": " + REFUSAL_GROUNDS[ground][1 if lang == "en" else 0]
    return name if not ground or ground in REFUSAL_GROUNDS else code


class EcopyError(Exception):
    """A failure a person can act on: a stable reason code plus the facts for its message."""

    def __init__(self, reason: Reason, **params: object) -> None:
        self.reason = reason
        self.params = params
        super().__init__(message(reason, "en", **params))

    def message(self, lang: str = "vi") -> str:
        return message(self.reason, lang, **self.params)


class Rejected(EcopyError):
    """The document cannot become an e-copy; the original stays stored."""
