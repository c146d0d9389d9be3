"""Where an activity happened, as the city publishes it: Incheon's 8 gu and 2 gun, and the
three IFEZ zones (Songdo, Cheongna, Yeongjong).

The IFEZ zones are districts of their own here, carved out of the gu that hold them (Songdo
from Yeonsu-gu, Cheongna from Seo-gu, Yeongjong from Jung-gu): the districts never overlap, so
no published figure of a gu minus its zone's can single out a small area. A place's district is
recorded with the partner's or station's data (``stations-incheon.json``, a provider's
registration), never taken from a citizen's address.
"""

from __future__ import annotations

from typing import Literal, get_args

District = Literal[
    "jung-gu",
    "dong-gu",
    "michuhol-gu",
    "yeonsu-gu",
    "namdong-gu",
    "bupyeong-gu",
    "gyeyang-gu",
    "seo-gu",
    "ganghwa-gun",
    "ongjin-gun",
    "songdo",
    "cheongna",
    "yeongjong",
]

DISTRICTS: tuple[str, ...] = get_args(District)

# Each district's kind: a gu or gun of Incheon, or a zone of the Incheon Free Economic Zone.
IFEZ_ZONES = frozenset({"songdo", "cheongna", "yeongjong"})
