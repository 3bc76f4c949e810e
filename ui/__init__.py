"""diemcau UI layer: the only place (with kiosk/) that imports PyQt6."""

from ui import texts
from ui.meeting import MeetingView
from ui.viewmodel import CallViewModel
from ui.window import KioskWindow

__all__ = ["CallViewModel", "KioskWindow", "MeetingView", "texts"]
