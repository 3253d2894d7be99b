"""device.core.stderr: what C libraries print to descriptor 2 is hidden by default, shown with --verbose."""

import os

from device.core import stderr as quiet


def test_c_output_inside_the_block_is_hidden_and_python_after_it_is_not(capfd):
    with quiet.c_stderr_hidden():
        os.write(2, b"ALSA lib seq_hw.c:466:(snd_seq_hw_open) open /dev/snd/seq failed\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_verbose_shows_everything(capfd, monkeypatch):
    monkeypatch.setattr(quiet, "VERBOSE", True)
    with quiet.c_stderr_hidden():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    assert capfd.readouterr().err == "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
