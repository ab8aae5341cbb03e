"""Settings for every test.

Hypothesis' per-example deadline (200 ms) is a timing assertion, and timing
belongs in bench/: on a loaded 2-core CI machine a pure-Python PAKE or a
mutated 64 KiB packet can take longer without anything being wrong. The
search itself stays bounded by each test's ``max_examples``.
"""

from hypothesis import settings

settings.register_profile("peerwork", deadline=None)
settings.load_profile("peerwork")
