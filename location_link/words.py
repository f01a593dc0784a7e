"""The caller's page in Bahasa Indonesia (the default) and English by choice.

The words are in the centre's catalogue under `ll.phone.*`; the page is not a console page (no
sign-in, no session language), so the language is the page's own: `?lang=`, else the link's.
"""

from __future__ import annotations

from siaga112.i18n import LANGUAGES, N_, translate

__all__ = ["LANGUAGES", "words", "word"]

KEYS = (
    N_("ll.phone.title"),
    N_("ll.phone.intro"),
    N_("ll.phone.consent"),
    N_("ll.phone.agree"),
    N_("ll.phone.language"),
    N_("ll.phone.sharing"),
    N_("ll.phone.waiting_fix"),
    N_("ll.phone.sent_fix"),
    N_("ll.phone.accuracy"),
    N_("ll.phone.geo_denied"),
    N_("ll.phone.geo_unavailable"),
    N_("ll.phone.photos"),
    N_("ll.phone.take_photo"),
    N_("ll.phone.pick_photo"),
    N_("ll.phone.photo_sending"),
    N_("ll.phone.photo_sent"),
    N_("ll.phone.photo_failed"),
    N_("ll.phone.video_asked"),
    N_("ll.phone.video_start"),
    N_("ll.phone.video_decline"),
    N_("ll.phone.video_live"),
    N_("ll.phone.video_stop"),
    N_("ll.phone.video_ended"),
    N_("ll.phone.video_failed"),
    N_("ll.phone.ended"),
    N_("ll.phone.network"),
    N_("ll.phone.unknown"),
    N_("ll.phone.expired"),
    N_("ll.phone.taken"),
    N_("ll.phone.not_started"),
    N_("ll.phone.slow_down"),
    N_("ll.phone.too_large"),
    N_("ll.phone.not_image"),
    N_("ll.phone.too_many_photos"),
)


def words(lang: str) -> dict[str, str]:
    """Every word of the page in one language, by its short name (`title`, `agree`, ...)."""
    lang = lang if lang in LANGUAGES else LANGUAGES[0]
    return {key.removeprefix("ll.phone."): translate(key, lang) for key in KEYS}


def word(key: str, lang: str) -> str:
    return translate(f"ll.phone.{key}", lang if lang in LANGUAGES else LANGUAGES[0])
