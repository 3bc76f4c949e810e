"""A small deterministic corpus (one 4-mic render, 16 s), built once per session in tmp."""

import shutil

import pytest


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    pytest.importorskip("scipy")
    pytest.importorskip("pyroomacoustics")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    from bench import _voice_corpus as corpus

    array = corpus.ARRAYS[0]
    images = corpus.load_images(array, 7, 16.0, tmp_path_factory.mktemp("voice-corpus"))
    return lambda noise, snr: corpus.mix(images, array, noise, snr, 7)
