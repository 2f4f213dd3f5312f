"""An adapter for a MusicGen model the user installed and downloaded themselves.

The model is loaded only from the folder named in `music: {model: …}`, with
`local_files_only`, never from the network. Generation is slow on a CPU, so a
short clip is generated once per cue and looped to the bed's length.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..audio.dsp import resample
from ..config import MusicConfig
from ..errors import EngineError
from .registry import BedRequest, Stereo, loop_to_length

CLIP_SECONDS = 12.0
TOKENS_PER_SECOND = 50


def _load_transformers_model(folder: Path) -> tuple[Any, Any, int]:
    from transformers import AutoProcessor, MusicgenForConditionalGeneration

    # network-ok: local_files_only — only a folder the user configured is read.
    processor = AutoProcessor.from_pretrained(folder, local_files_only=True)  # network-ok
    model = MusicgenForConditionalGeneration.from_pretrained(folder, local_files_only=True)  # network-ok
    return processor, model, int(model.config.audio_encoder.sampling_rate)


class MusicGenEngine:
    def __init__(
        self, config: MusicConfig, base_dir: Path, *, loader: Callable[[Path], tuple[Any, Any, int]] | None = None
    ) -> None:
        if not config.model:
            raise EngineError("the musicgen engine needs `music: {model: path/to/musicgen-folder}`", engine="musicgen")
        self.folder = (base_dir / config.model).resolve()
        if not self.folder.is_dir():
            raise EngineError(f"MusicGen model folder {config.model!r} not found (looked in {self.folder})")
        if loader is None and importlib.util.find_spec("transformers") is None:
            raise EngineError("the musicgen engine needs transformers and torch: pip install transformers torch")
        try:
            self.processor, self.model, self.rate = (loader or _load_transformers_model)(self.folder)
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(f"could not load the MusicGen model in {self.folder}: {exc}") from exc

    def render(self, request: BedRequest) -> Stereo:
        inputs = self.processor(text=[request.cue], padding=True, return_tensors="pt")
        seconds = min(CLIP_SECONDS, request.seconds)
        tokens = self.model.generate(**inputs, do_sample=True, max_new_tokens=int(seconds * TOKENS_PER_SECOND))
        clip = np.asarray(tokens[0, 0], np.float32)
        clip = resample(clip, self.rate, request.sample_rate)
        # Generated audio may sit at full scale and resampling overshoots it; beds are re-levelled later anyway.
        clip *= np.float32(min(1.0, 0.9 / max(float(np.abs(clip).max(initial=0.0)), 1e-9)))
        stereo = np.repeat(clip[:, None], 2, axis=1)
        return loop_to_length(stereo, round(request.seconds * request.sample_rate), request.sample_rate)
