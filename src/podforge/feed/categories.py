"""Apple Podcasts' categories and subcategories (podcasters.apple.com/support/1691), the only values
``<itunes:category>`` may hold; Spotify reads the same tag."""

from __future__ import annotations

import difflib

APPLE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Arts": ("Books", "Design", "Fashion & Beauty", "Food", "Performing Arts", "Visual Arts"),
    "Business": ("Careers", "Entrepreneurship", "Investing", "Management", "Marketing", "Non-Profit"),
    "Comedy": ("Comedy Interviews", "Improv", "Stand-Up"),
    "Education": ("Courses", "How To", "Language Learning", "Self-Improvement"),
    "Fiction": ("Comedy Fiction", "Drama", "Science Fiction"),
    "Government": (),
    "History": (),
    "Health & Fitness": ("Alternative Health", "Fitness", "Medicine", "Mental Health", "Nutrition", "Sexuality"),
    "Kids & Family": ("Education for Kids", "Parenting", "Pets & Animals", "Stories for Kids"),
    "Leisure": (
        "Animation & Manga",
        "Automotive",
        "Aviation",
        "Crafts",
        "Games",
        "Hobbies",
        "Home & Garden",
        "Video Games",
    ),
    "Music": ("Music Commentary", "Music History", "Music Interviews"),
    "News": (
        "Business News",
        "Daily News",
        "Entertainment News",
        "News Commentary",
        "Politics",
        "Sports News",
        "Tech News",
    ),
    "Religion & Spirituality": ("Buddhism", "Christianity", "Hinduism", "Islam", "Judaism", "Religion", "Spirituality"),
    "Science": (
        "Astronomy",
        "Chemistry",
        "Earth Sciences",
        "Life Sciences",
        "Mathematics",
        "Natural Sciences",
        "Nature",
        "Physics",
        "Social Sciences",
    ),
    "Society & Culture": ("Documentary", "Personal Journals", "Philosophy", "Places & Travel", "Relationships"),
    "Sports": (
        "Baseball",
        "Basketball",
        "Cricket",
        "Fantasy Sports",
        "Football",
        "Golf",
        "Hockey",
        "Rugby",
        "Running",
        "Soccer",
        "Swimming",
        "Tennis",
        "Volleyball",
        "Wilderness",
        "Wrestling",
    ),
    "Technology": (),
    "True Crime": (),
    "TV & Film": ("After Shows", "Film History", "Film Interviews", "Film Reviews", "TV Reviews"),
}

Category = tuple[str, str | None]  # (category, subcategory or None)

_BY_NAME: dict[str, Category] = {}
for _parent, _subs in APPLE_CATEGORIES.items():
    for _sub in _subs:
        _BY_NAME[_sub.lower()] = (_parent, _sub)
        _BY_NAME[f"{_parent} > {_sub}".lower()] = (_parent, _sub)
for _parent in APPLE_CATEGORIES:  # a parent's own name wins over a subcategory that shares it
    _BY_NAME[_parent.lower()] = (_parent, None)


def parse_category(value: str) -> Category:
    """``"Technology"``, ``"Documentary"`` or ``"Society & Culture > Documentary"`` (any case) → Apple's
    (category, subcategory); ValueError naming the closest Apple names otherwise."""
    key = " > ".join(part.strip() for part in value.split(">")).lower()
    found = _BY_NAME.get(key)
    if found:
        return found
    names = [*APPLE_CATEGORIES, *(s for subs in APPLE_CATEGORIES.values() for s in subs)]
    close = difflib.get_close_matches(value.strip(), names, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    raise ValueError(f"{value!r} is not an Apple Podcasts category; {hint}see podcasters.apple.com/support/1691")


def is_apple_category(parent: str, sub: str | None) -> bool:
    return parent in APPLE_CATEGORIES and (sub is None or sub in APPLE_CATEGORIES[parent])
