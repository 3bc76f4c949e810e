"""Every word the room sees, in plain Vietnamese (no exception text reaches the TV)."""

from __future__ import annotations

from endpoint import CallState, FailReason, LinkGrade, LinkQuality

JOIN = "Tham gia họp"
LEAVE = "Rời họp"
MUTE = "Tắt micro"
UNMUTE = "Bật micro"
RETRY = "Thử lại"
MUTED_BADGE = "Micro đang tắt"
MIC_BADGE = {
    "muted": MUTED_BADGE,
    "auto_muted": "Tự động tắt micro — chưa có ai nói",
    "open_warning": "Micro mở, không tự tắt được — hãy kiểm tra micro",
}
OVERVIEW = "Toàn cảnh"
AUTO_CAMERA_ON = "Camera tự chuyển theo người nói"
AUTO_CAMERA_PAUSED = "Camera chọn tay — tự chuyển tạm dừng đến hết cuộc họp"
SELF_VIEW = "Phòng mình"
WAITING_FOR_ROOMS = "Đang chờ các điểm cầu khác vào họp…"
CONFIG_BAD = "Tệp cấu hình có lỗi. Máy đang dùng cấu hình tốt gần nhất."
CONFIG_BAD_NO_FALLBACK = (
    "Tệp cấu hình có lỗi và chưa có cấu hình tốt nào để dùng. Hãy gọi kỹ thuật viên."
)
CAMERA_MISSING = "Không tìm thấy camera. Hãy kiểm tra dây cắm camera."
MIC_MISSING = "Không mở được micro. Hãy kiểm tra dây cắm micro."
SPEAKER_MISSING = "Không mở được loa. Hãy kiểm tra loa và cáp âm thanh."

STATE = {
    CallState.IDLE: "Sẵn sàng. Chạm «Tham gia họp» để vào cuộc họp.",
    CallState.CONNECTING: "Đang kết nối tới điểm cầu huyện…",
    CallState.IN_MEETING: "Đang họp",
    CallState.RECONNECTING: "Đang kết nối lại…",
    CallState.LEAVING: "Đang rời cuộc họp…",
    CallState.FAILED: "Không vào được cuộc họp.",
}

FAILURE = {
    FailReason.HUB_UNREACHABLE: "Không kết nối được tới điểm cầu huyện. Hãy kiểm tra mạng rồi thử lại.",
    FailReason.TLS: "Không xác minh được máy chủ điểm cầu huyện (chứng chỉ bảo mật). Hãy gọi kỹ thuật viên.",
    FailReason.WRONG_PIN: "Mã PIN phòng họp không đúng. Hãy gọi kỹ thuật viên để kiểm tra cấu hình.",
    FailReason.NO_SUCH_ROOM: "Không tìm thấy phòng họp trên điểm cầu huyện. Có thể cuộc họp chưa mở.",
    FailReason.ROOM_FULL: "Phòng họp đã đủ số điểm cầu. Hãy liên hệ điểm cầu huyện.",
    FailReason.UNAUTHORIZED: "Điểm cầu huyện từ chối kết nối (sai mã xác thực). Hãy gọi kỹ thuật viên.",
    FailReason.HUB_ERROR: "Điểm cầu huyện báo lỗi. Hãy thử lại sau ít phút.",
    FailReason.PROTOCOL: "Điểm cầu huyện trả lời không đúng cách. Hãy thử lại sau ít phút.",
    FailReason.MEDIA: "Không truyền được hình và tiếng. Hãy kiểm tra mạng rồi thử lại.",
    FailReason.CONNECTION_LOST: "Mất kết nối tới điểm cầu huyện. Hãy kiểm tra mạng rồi thử lại.",
}


STALE_TILE = "mất kết nối"
WEAK_TILE = "đường truyền yếu"  # the room's stream reaches us poorly; distinct from stale
PAUSED_TILE = "video tạm dừng — đường truyền yếu"  # our downlink: its sound still comes
PAUSED_MARK = "video tạm dừng"  # the same, on a tile that shows only the room's name
MUTED_TILE = "tắt micro"  # the room muted its microphone
NO_NAME = "(không tên)"  # a room that gave no name


def more_rooms(count: int) -> str:
    """The last name tile when the rest do not fit: «+ 76 điểm cầu khác»."""
    return f"+ {count} điểm cầu khác"


LINK_GRADE = {
    LinkGrade.GOOD: "Kết nối tốt",
    LinkGrade.FAIR: "Kết nối yếu",
    LinkGrade.POOR: "Kết nối kém",
}
LINK_VIDEO_PAUSED = "Tạm dừng hình để giữ tiếng"


def link_figures(link: LinkQuality) -> str:
    """«Mất gói 3,2 % · Trễ 180 ms», then «↓ 420 ↑ 96 kbit/s» (the worse direction's loss)."""
    loss = f"{max(link.loss_down, link.loss_up):.1f}".replace(".", ",")
    delay = f"{link.rtt_ms:.0f} ms" if link.rtt_ms is not None else "—"
    rates = f"↓ {link.kbps_down:.0f} ↑ {link.kbps_up:.0f} kbit/s"
    return f"Mất gói {loss} % · Trễ {delay}\n{rates}"


def reconnecting_text(seconds: float, attempt: int) -> str:
    """«Đang kết nối lại… 0:42 (lần thử 5)»: still trying, never a red failure."""
    whole = max(0, int(seconds))
    tries = f" (lần thử {attempt})" if attempt else ""
    return f"{STATE[CallState.RECONNECTING]} {whole // 60}:{whole % 60:02d}{tries}"


def failure_text(reason: FailReason | None) -> str:
    return FAILURE.get(reason, STATE[CallState.FAILED]) if reason else STATE[CallState.FAILED]


VOICE_CONFIG_OFF = "Micro thông minh tạm tắt do lỗi cấu hình — vẫn họp bình thường."

SCHEDULE_CANCEL = "Không vào họp lần này"
SCHEDULE_CONFIG_BAD = "Lịch họp có mục bị lỗi nên mục đó được bỏ qua. Hãy gọi kỹ thuật viên."


def countdown_text(title: str, seconds: float) -> str:
    """«Cuộc họp «Giao ban» sẽ tự động bắt đầu sau 1:30»."""
    whole = max(0, int(seconds + 0.999))  # 0.4 s left still shows 0:01
    return f"Cuộc họp «{title}» sẽ tự động bắt đầu sau {whole // 60}:{whole % 60:02d}"


# --- the scheduled equipment check, one line on the Join screen --------------------------------


def check_running(at: str) -> str:
    """«Đang kiểm tra thiết bị 07:30…» while the scheduled self-test runs."""
    return f"Đang kiểm tra thiết bị {at}…"


def check_line(at: str, fails: int, warns: int) -> str:
    """«Kiểm tra thiết bị 07:30: tất cả đều tốt» or «…: 2 lỗi, 1 cảnh báo — gọi kỹ thuật viên»."""
    found = [f"{fails} lỗi"] * bool(fails) + [f"{warns} cảnh báo"] * bool(warns)
    if not found:
        return f"Kiểm tra thiết bị {at}: tất cả đều tốt"
    return f"Kiểm tra thiết bị {at}: {', '.join(found)} — gọi kỹ thuật viên"


# --- the technician area -------------------------------------------------------------------------
TECH_ENTRY = "Kỹ thuật"
TECH_TITLE = "Khu vực kỹ thuật — nhập mã PIN"
TECH_PIN_PROMPT = "Mã PIN kỹ thuật"
TECH_OK = "Vào"
TECH_CLEAR = "Xóa"
TECH_TAB_SELFTEST = "Tự kiểm tra"
TECH_TAB_DEVICES = "Thiết bị"
TECH_TAB_NETWORK = "Mạng và máy chủ"
TECH_TAB_LOG = "Nhật ký"
TECH_RUN = "Chạy tự kiểm tra"
TECH_RUNNING = "Đang kiểm tra… (dưới 30 giây)"
TECH_RUN_FAILED = "Không chạy được tự kiểm tra. Hãy thử lại; nếu vẫn lỗi, gọi kỹ thuật."
TECH_EXPORT = "Chép báo cáo ra USB"
TECH_EXPORT_FAILED = "Không chép được báo cáo. Hãy cắm USB rồi thử lại."
TECH_VERDICT = {
    "pass": "Tất cả đều tốt.",
    "warn": "Dùng được, nhưng có mục cần xem lại.",
    "fail": "Có lỗi cần sửa trước khi họp.",
}
TECH_VERDICT_WORD = {"pass": "Đạt", "warn": "Cảnh báo", "fail": "Lỗi"}
TECH_DEVICE_KINDS = {"camera": "Camera", "microphone": "Micro", "speaker": "Loa"}
TECH_DEVICE_DEFAULTS = "Dùng thiết bị theo tệp cấu hình"
TECH_DEVICE_SAVED = "Đã lưu. Tự kiểm tra dùng ngay; cuộc họp dùng từ lần khởi động lại sau."
TECH_DEVICE_RESET = "Đã trở về thiết bị theo tệp cấu hình (từ lần khởi động lại sau)."
TECH_DEVICE_SAVE_FAILED = "Không lưu được lựa chọn thiết bị. Hãy kiểm tra ổ đĩa rồi thử lại."
SECRET_SET = "đã đặt (không hiển thị)"
SECRET_UNSET = "chưa đặt"


def tech_wrong_pin(tries_left: int) -> str:
    return f"Mã PIN không đúng. Còn {tries_left} lần thử."


def tech_locked(seconds: float) -> str:
    whole = max(1, int(seconds + 0.999))
    return f"Nhập sai quá nhiều lần. Hãy chờ {whole // 60}:{whole % 60:02d} rồi thử lại."


def tech_device_current(name: str, chosen: bool) -> str:
    """«Đang dùng: /dev/video2 (kỹ thuật viên chọn)» or «… (theo tệp cấu hình)»."""
    return f"Đang dùng: {name} ({'kỹ thuật viên chọn' if chosen else 'theo tệp cấu hình'})"


def tech_exported(where: str) -> str:
    return f"Đã chép báo cáo: {where}"


def tech_version(version: str) -> str:
    return f"Phiên bản diemcau {version}"
