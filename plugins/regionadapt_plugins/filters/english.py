"""A fast path for plainly English text: most captions in a world-wide pool are English, and
the statistical identifier costs ~70 us each. Text of at least 4 words, two thirds of them among
English's commonest words, is English, and so is a shorter caption of common words around a
capitalised name ("Morning in Zurich"); anything else goes to the model.

The word list is the closed class (articles, pronouns, prepositions, conjunctions, auxiliaries)
plus the commonest caption nouns and adjectives; none is a word of Malay, Indonesian, Tagalog,
Vietnamese or Javanese (checked against the packs' own function words: "di", "sa", "na", "ang",
"ng", "ke", "dan" are absent). Measured on benchmarks/region_pool.py: see docs/data.md.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z']+")

ENGLISH_COMMON = frozenset(
    """
a an the this that these those some any each every all both no one two three four five
i me my we our you your he him his she her it its they them their who which what where when why
how of in on at to for from with without by about into onto over under above below between
through during after before near next behind around against along across up down out off
and or but nor so yet if then than because while as is are was were be been being am do does
did done have has had having will would shall should can could may might must not very too
also just only more most much many few other such own same there here now again new old
photo picture image view close closeup background front top side left right inside outside
man woman men women people person boy girl child children family group crowd
street road house building city town village market shop store table room window door wall
water sea beach river lake sky sun night day morning evening light dark
red blue green yellow white black brown orange pink purple grey gray big small large little
tall long short young beautiful traditional local old-fashioned famous
sitting standing walking holding wearing looking playing eating drinking riding
food dish plate bowl cup glass bottle car bus train boat bike bicycle dog cat bird tree flower
afternoon noon sunset sunrise rain rainy snow sunny cloudy quiet busy crowded tourist tourists
visitor visitors walk walks street-food photograph photographs shot aerial scene
""".split()
)


_TOKEN = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")  # words in any script ("Zürich" is one)


def plainly_english(text: str) -> bool:
    """At least 4 words, two thirds of them common English words; or 3 words or more with at
    least 2 common ones, where capitalised words that are not common (names: "Morning in
    Zurich", "Idaho at night") are left out of the count."""
    tokens = _TOKEN.findall(text)
    if len(tokens) < 3:
        return False
    common = names = 0
    for tok in tokens:
        if tok.lower() in ENGLISH_COMMON:
            common += 1
        elif tok[0].isupper():
            names += 1
    if len(tokens) >= 4 and 3 * common >= 2 * len(tokens):
        return True
    return common >= 2 and 3 * common >= 2 * (len(tokens) - names)
