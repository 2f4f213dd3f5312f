"""What an audio-only render holds in memory: modules are never unloaded, so what the render process imports
before or without needing it stays in its RSS for the whole render (bench/memory.py measures the figures)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

PROBE = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from podforge.config import load_render_config
    from podforge.pipeline import RenderOptions, render

    PACKAGES = ("scipy", "pyloudnorm", "cv2", "mediapipe")
    STAGES = ("podforge.visuals", "podforge.video", "podforge.chunks", "podforge.encode", "podforge.bitstream",
              "podforge._yuv")

    def loaded():
        return sorted({m.partition(".")[0] for m in sys.modules if m.partition(".")[0] in PACKAGES}
                      | {m for m in sys.modules if m.startswith(STAGES)})

    seen = {}
    def progress(event):
        if event.stage == "voices":
            seen.setdefault("voicing", loaded())

    script, out, config = (Path(a) for a in sys.argv[1:])
    render(script, RenderOptions(out_dir=out, audio_only=True, config=load_render_config(config)), progress)
    print(json.dumps({**seen, "after": loaded(), "mp3": (out / "episode.mp3").is_file()}))
""")


def test_an_audio_only_render_never_imports_the_video_stack(write_script, fake_config, tmp_path):
    """Nor the audio stage's scipy.signal and pyloudnorm (~70 MB) while it voices, the stage where synthesis
    lanes run beside it and the render's memory peaks."""
    script = write_script("""
        ---
        title: Imports
        ---

        ALEX: One line to voice.

        SAM: And one more, please.
        """)
    env = {**os.environ, "PODFORGE_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "-c", PROBE, str(script), str(tmp_path / "out"), str(fake_config)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["mp3"]
    assert found["voicing"] == []
    assert found["after"] == ["pyloudnorm", "scipy"]  # the audio stage's: the probe sees what is imported
