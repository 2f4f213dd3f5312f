"""A long MP3 encoded as two halves on two threads: decoded, it is the single pass's equal, seam included."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from media import snr, xing
from podforge.audio import halves, splice
from podforge.audio.export import decode_audio, encode_mp3
from podforge.audio.halves import main_data_begin
from podforge.audio.splice import BLOCK, Previous
from podforge.audio.stream import as_reader
from podforge.errors import EncodeError

SECONDS = 40  # above halves.MIN_SECONDS
Audio = npt.NDArray[np.float32]


def sung(rate: int, channels: int, seconds: int = SECONDS) -> Audio:
    """A voice held without pauses, so LAME's bit reservoir is in use at the join, over a little noise; its
    high SNR through the codec shows a frame decoded from the wrong bytes (it is 5-8x the codec's error)."""
    rng = np.random.default_rng(0)
    n = seconds * rate
    t = np.arange(n) / rate
    phase = np.cumsum(2 * np.pi * (130 + 30 * np.sin(2 * np.pi * 0.5 * t)) / rate)
    voice = sum(np.sin(k * phase) / k for k in range(1, 30)) * (0.6 + 0.4 * np.sin(2 * np.pi * 2.3 * t))
    mono = (0.2 * voice + 0.02 * rng.standard_normal(n)).astype(np.float32)
    return mono if channels == 1 else np.stack([mono, 0.9 * mono], axis=1)


def packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(packet) for packet in container.demux(audio=0) if packet.size]


def single_pass(path: Path, x: Audio, rate: int, bitrate: int, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(splice, "MIN_SECONDS", float("inf"))
        encode_mp3(path, as_reader(x, rate), bitrate=bitrate)


SETTINGS = [(48_000, 2, 192_000), (44_100, 1, 96_000), (24_000, 1, 64_000)]  # MPEG-1 stereo and mono, MPEG-2


@pytest.mark.parametrize(("rate", "channels", "bitrate"), SETTINGS)
def test_two_halves_decode_like_a_single_pass(
    rate: int, channels: int, bitrate: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    x = sung(rate, channels)
    done = encode_mp3(tmp_path / "halves.mp3", as_reader(x, rate), bitrate=bitrate)
    single_pass(tmp_path / "single.mp3", x, rate, bitrate, monkeypatch)
    size = 576 if rate < 32_000 else 1152  # MPEG-2's frames are half as long
    middle = -(-len(x) // size) // 2
    assert done.joined_at is not None and middle <= done.joined_at < middle + halves.WINDOW
    join = done.joined_at
    ours, theirs = packets(tmp_path / "halves.mp3"), packets(tmp_path / "single.mp3")
    assert main_data_begin(ours[join]) > 0  # the second half's first frame borrowed bytes from the first's
    assert ours[: join - halves.HELD] == theirs[: join - halves.HELD] and ours != theirs
    out, ref = decode_audio(tmp_path / "halves.mp3", rate), decode_audio(tmp_path / "single.mp3", rate)
    assert out.shape == ref.shape and len(out) == len(x)  # the delay and the end padding in the header are right
    assert xing(tmp_path / "halves.mp3") == xing(tmp_path / "single.mp3")
    mono = out[:, 0] if x.ndim == 1 else out
    assert snr(x, mono) == pytest.approx(snr(x, ref[:, 0] if x.ndim == 1 else ref), abs=0.05)
    # The frames around the join decode as well as any: read from the wrong bytes they are several times worse.
    seam = join * size - (1105 if size == 1152 else 529 + 576)
    error = np.abs(mono - x).reshape(len(x), -1).max(axis=1)
    far = np.abs(np.arange(len(x)) - seam) > 4 * size
    assert error[seam - 2 * size : seam + 2 * size].max() <= 1.5 * error.max(initial=0, where=far)


def test_without_a_join_the_first_encoder_goes_on_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    x = sung(48_000, 2)
    monkeypatch.setattr(halves, "WINDOW", 0)
    done = encode_mp3(tmp_path / "alone.mp3", as_reader(x, 48_000), bitrate=192_000)
    single_pass(tmp_path / "single.mp3", x, 48_000, 192_000, monkeypatch)
    assert done.joined_at is None
    assert (tmp_path / "alone.mp3").read_bytes() == (tmp_path / "single.mp3").read_bytes()


def test_a_broken_second_half_fails_the_encode_and_writes_nothing(tmp_path: Path) -> None:
    x = sung(48_000, 2)
    x[len(x) * 3 // 4] = np.nan
    with pytest.raises(EncodeError, match="NaN"):
        encode_mp3(tmp_path / "broken.mp3", as_reader(x, 48_000), bitrate=192_000)
    assert list(tmp_path.iterdir()) == []


def test_an_edit_shares_what_it_encodes_afresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    x = sung(48_000, 2, seconds=80)
    edited = x.copy()
    edited[10 * 48_000 : 11 * 48_000] *= np.float32(1.3)
    encode_mp3(tmp_path / "first.mp3", as_reader(x, 48_000), bitrate=192_000)
    previous = Previous(tmp_path / "first.mp3", 10 * 48_000 // BLOCK * BLOCK)
    done = encode_mp3(tmp_path / "edit.mp3", as_reader(edited, 48_000), bitrate=192_000, previous=previous)
    single_pass(tmp_path / "single.mp3", edited, 48_000, 192_000, monkeypatch)
    rest = -(-len(x) // 1152) - done.reused_packets
    assert done.reused_packets > 300 and done.joined_at is not None
    assert abs(done.joined_at - (done.reused_packets + rest // 2)) <= halves.PRIMING_FRAMES
    out, ref = decode_audio(tmp_path / "edit.mp3"), decode_audio(tmp_path / "single.mp3")
    assert out.shape == edited.shape and xing(tmp_path / "edit.mp3") == xing(tmp_path / "single.mp3")
    assert snr(edited, out) == pytest.approx(snr(edited, ref), abs=0.5)
    error = np.abs(out - edited).max(axis=1)
    for seam in (done.reused_packets * 1152 - 1105, done.joined_at * 1152 - 1105):
        far = np.abs(np.arange(len(x)) - seam) > 4000
        assert error[seam - 2000 : seam + 2000].max() <= 1.5 * error.max(initial=0, where=far)


def test_a_browser_plays_on_through_the_join(tmp_path: Path, browser_page) -> None:
    from browser import screenshot

    done = encode_mp3(tmp_path / "halves.mp3", as_reader(sung(48_000, 2), 48_000), bitrate=192_000)
    assert done.joined_at is not None
    join = done.joined_at * 1152 / 48_000
    (tmp_path / "page.html").write_text('<audio id="a" controls src="halves.mp3"></audio>', encoding="utf-8")
    page = browser_page
    page.goto((tmp_path / "page.html").as_uri())
    page.wait_for_function("document.getElementById('a').readyState >= 1", timeout=15_000)
    assert page.evaluate("document.getElementById('a').duration") == pytest.approx(SECONDS, abs=0.03)
    page.evaluate(f"(() => {{ const a = document.getElementById('a'); a.currentTime = {join - 1.0}; a.play(); }})()")
    page.wait_for_function(f"document.getElementById('a').currentTime > {join + 1.0}", timeout=15_000)
    assert page.evaluate("document.getElementById('a').error") is None
    screenshot(page, "mp3-halves-played")
