"""diemcau ui layer."""
