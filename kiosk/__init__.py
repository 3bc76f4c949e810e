"""diemcau kiosk layer."""
