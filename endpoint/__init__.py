"""diemcau endpoint layer."""
