"""Interface strings in Vietnamese (default) and English.

Each view module registers its own strings with `register` at import, so pages can be worked
on separately; a key registered twice with different texts is a programming error.
"""

from __future__ import annotations

LANGS = ("vi", "en")
_STRINGS: dict[str, tuple[str, str]] = {}


def register(strings: dict[str, tuple[str, str]]) -> None:
    for key, texts in strings.items():
        if key in _STRINGS and _STRINGS[key] != texts:
            raise ValueError(f"interface string {key!r} registered twice with different texts")
        _STRINGS[key] = texts


def text(key: str, lang: str, **params: object) -> str:
    """The string in `lang`; unknown keys show as themselves so a missing one is visible."""
    pair = _STRINGS.get(key)
    if pair is None:
        return key
    value = pair[1] if lang == "en" else pair[0]
    return value.format(**params) if params else value


register({
    "app.name": ("Chứng thực bản sao điện tử", "Electronic certified copies"),
    "app.test_mode": ("THỬ NGHIỆM — không có giá trị pháp lý",
                      "TEST — not legally valid"),
    "nav.access": ("Ai đã xem dữ liệu", "Who read the data"),
    "nav.skip": ("Bỏ qua, đến nội dung chính", "Skip to main content"),
    "nav.dossiers": ("Hồ sơ", "Dossiers"),
    "nav.review": ("Cần kiểm tra", "To check"),
    "nav.certify": ("Chứng thực", "Certify"),
    "nav.register": ("Sổ chứng thực", "Register"),
    "nav.warehouse": ("Kho dữ liệu công dân", "Citizens' data warehouse"),
    "nav.cancellations": ("Danh sách hủy", "Cancellations"),
    "nav.verify": ("Kiểm tra bản sao", "Verify a copy"),
    "nav.status": ("Tra cứu hồ sơ", "Dossier status"),
    "nav.main": ("Điều hướng chính", "Main navigation"),
    "nav.language": ("English", "Tiếng Việt"),
    "nav.language_label": ("Switch the interface to English",
                           "Chuyển giao diện sang tiếng Việt"),
    "list.next": ("Trang sau →", "Next page →"),
    "list.first": ("← Về trang đầu", "← Back to the first page"),
    "list.bad_cursor": ("Liên kết trang không hợp lệ; đã quay về trang đầu.",
                        "That page link is not valid; back to the first page."),
    "auth.login": ("Đăng nhập", "Sign in"),
    "auth.logout": ("Đăng xuất", "Sign out"),
    "auth.username": ("Tên đăng nhập", "User name"),
    "auth.password": ("Mật khẩu", "Password"),
    "auth.failed": ("Tên đăng nhập hoặc mật khẩu không đúng.",
                    "Wrong user name or password."),
    "auth.expired": ("Trang đăng nhập đã hết hạn. Vui lòng nhập lại tên và mật khẩu.",
                     "The sign-in page expired. Please enter your user name and password "
                     "again."),
    "auth.throttled": ("Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {minutes} phút.",
                       "Too many failed sign-ins. Try again in {minutes} minutes."),
    "auth.signed_in_as": ("Đăng nhập: {name} ({role}, xã {agency})",
                          "Signed in: {name} ({role}, commune {agency})"),
    "role.clerk": ("công chức một cửa", "clerk"),
    "role.certifier": ("người chứng thực", "certifier"),
    "role.auditor": ("kiểm tra viên", "auditor"),
    "role.admin": ("quản trị", "admin"),
    "error.403": ("Bạn không có quyền xem hoặc thực hiện việc này.",
                  "You may not see or do this."),
    "error.404": ("Không tìm thấy trang hoặc hồ sơ.", "Page or dossier not found."),
    "error.400": ("Yêu cầu không hợp lệ.", "Invalid request."),
    "error.413": ("Tệp quá lớn.", "File too large."),
    "error.429": ("Quá nhiều yêu cầu; vui lòng thử lại sau.", "Too many requests; try later."),
    "error.503": ("Nhật ký truy cập tạm thời không ghi được, nên trang có dữ liệu cá nhân chưa "
                  "được hiển thị. Vui lòng thử lại sau ít phút; nếu vẫn lỗi, báo quản trị viên.",
                  "The access log cannot be written just now, so pages with personal data are "
                  "not shown. Try again in a few minutes; if it persists, tell the "
                  "administrator."),
    "error.title": ("Có lỗi", "Something went wrong"),
    "error.back": ("Về trang chính", "Back to the start page"),
    "common.save": ("Lưu", "Save"),
    "common.cancel": ("Hủy", "Cancel"),
    "common.back": ("Quay lại", "Back"),
})
