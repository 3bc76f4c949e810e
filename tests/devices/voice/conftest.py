"""A small deterministic corpus (one 4-mic render, 16 s), built once per session in tmp.

The project's setup script always installs scipy, pyroomacoustics and espeak-ng, so a missing
one is a broken environment: the fixture fails with a clear message instead of skipping (a
skipped test must never be counted as passing).
"""

import importlib.util
import shutil

import pytest


def require_corpus_tools() -> None:
    missing = [m for m in ("scipy", "pyroomacoustics") if importlib.util.find_spec(m) is None]
    if shutil.which("espeak-ng") is None:
        missing.append("espeak-ng (binary)")
    if missing:
        pytest.fail(
            f"voice corpus needs {', '.join(missing)}: run the project's setup script "
            "(installs the bench extras and espeak-ng); these tests are never skipped",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    require_corpus_tools()
    from bench import _voice_corpus as corpus

    array = corpus.ARRAYS[0]
    images = corpus.load_images(array, 7, 16.0, tmp_path_factory.mktemp("voice-corpus"))
    return lambda noise, snr: corpus.mix(images, array, noise, snr, 7)
