"""Talking avatars for podcast videos: procedural illustrated characters and external talking-head tools."""
