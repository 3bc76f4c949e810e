"""diemcau devices layer."""
