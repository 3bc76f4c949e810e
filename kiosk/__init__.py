"""diemcau kiosk layer.

Every kiosk process starts here, before anything imports numpy: numpy's OpenBLAS then runs
its products on the calling thread. With its default of one thread per core, the voice
pipeline's small matrix products (the direction scan, the seat beams) woke a second thread
that spun beside the first: 0.13 instead of 0.075 s of CPU per second of 6-mic audio on this
2-core machine, taken from the video encoder. ``setdefault``: a technician's own setting wins.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
