"""A stretch of a frame plan as a plan of its own, and the digest of everything it draws.

``window(plan, a, b)`` keeps frames ``[a, b)`` with their frame numbers starting again at 0: every per-frame track
is sliced, overlays and the title card are moved by ``-a``. Drawing it with features of its own audio slice
(``AudioFeatures(mix[a*spf:b*spf])``) is how a video chunk is drawn; nothing in it refers to absolute time, so the
same content anywhere in an episode draws the same frames (avatar idle motion and blinks, the particles'
drift and the visualiser's smoothing all start again at the window's first frame).

``window_digest`` hashes exactly what the window's frames are drawn from (the sliced tracks, the overlays'
pixels and timing, the caption pages shown and the highlighted words), so it is equal for two windows only when
they draw the same frames from the same audio and static settings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ._draw import Patch
from .avatars.tiles import SpeakerAvatar
from .avatars.track import MouthTrack
from .captions import CaptionTrack
from .frames import FramePlan, Overlay


def window(plan: FramePlan, a: int, b: int) -> FramePlan:
    """Frames ``[a, b)`` of ``plan`` as a plan of ``b - a`` frames."""
    if not 0 <= a < b <= plan.n_frames:
        raise ValueError(f"window [{a}, {b}) is outside the plan's {plan.n_frames} frames")
    overlays = tuple(
        Overlay(o.patch, o.start - a, o.end - a, o.fade) for o in plan.overlays if o.start < b and o.end > a
    )
    captions = plan.captions
    if captions is not None:
        captions = CaptionTrack(captions.pages, captions.page[a:b], captions.token[a:b])
    return replace(
        plan,
        n_frames=b - a,
        base_track=None if plan.base_track is None else plan.base_track[a:b],
        active=plan.active[a:b],
        title_end=plan.title_end - a,
        overlays=overlays,
        captions=captions,
        avatars=tuple(_avatar_window(avatar, a, b) for avatar in plan.avatars),
    )


def _avatar_window(avatar: SpeakerAvatar, a: int, b: int) -> SpeakerAvatar:
    m = avatar.mouth
    mouth = MouthTrack(m.shape[a:b], m.openness[a:b], m.speaking[a:b], m.fallback[a:b])
    return replace(avatar, slot_track=avatar.slot_track[a:b], mouth=mouth, first=avatar.first + a)


def window_digest(plan: FramePlan) -> str:
    """Hash of what a windowed plan draws, less its static layers (bases, tiles, title card, avatar art).

    The static layers follow from the episode's static settings, which the chunk key hashes separately.
    """
    h = hashlib.sha256()

    def add(*parts: object) -> None:
        for part in parts:
            h.update(part.tobytes() if isinstance(part, np.ndarray) else repr(part).encode())
            h.update(b"|")

    n = plan.n_frames
    # Only the title's opacity over these frames matters: clamp its end to what they can tell apart.
    add(n, min(max(plan.title_end, 0), n + plan.title_fade), plan.title_fade, plan.active)
    add(plan.base_track if plan.base_track is not None else None)
    for overlay in plan.overlays:
        add(overlay.start, overlay.end, overlay.fade, _patch_digest(overlay.patch))
    if plan.captions is not None:
        _add_captions(add, plan.captions)
    for avatar in plan.avatars:
        m = avatar.mouth
        add(avatar.seed, avatar.partner_side, avatar.slot_track, m.shape, m.openness, m.speaking, m.fallback)
        talking = avatar.source.talking
        if talking is not None:  # a tool's frames: which line's clip and frame each of ours shows, by content
            shown = (talking.index(avatar.first + i) for i in range(n))
            add([None if at is None else (talking.track.clips[at[0]].key, at[1]) for at in shown])
    return h.hexdigest()


def _add_captions(add: Callable[..., None], track: CaptionTrack) -> None:
    # Pages by what they say, not by their index in the episode: an earlier page's edit must not count here.
    shown = np.unique(track.page[track.page >= 0])
    pages = [(track.pages[p].lines, track.pages[p].color) for p in shown]
    add(pages, np.searchsorted(shown, track.page) * (track.page >= 0) - (track.page < 0), track.token)


def _patch_digest(patch: Patch) -> str:
    h = hashlib.sha256(patch.premul.tobytes())
    h.update(patch.keep.tobytes())
    h.update(repr((patch.x, patch.y, patch.premul.shape)).encode())
    return h.hexdigest()
