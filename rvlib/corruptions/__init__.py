"""Image corruptions: the paper's four (continuous severity) and the common-corruption suite.

* :mod:`.paper`: ``gaussian``, ``salt_pepper``, ``fog``, ``occlusion`` with
  severity in [0, 1] (``CORRUPTIONS``, ``corrupt``, ``corrupt_grid``).
* :mod:`.suite`: Hendrycks & Dietterich's 15 + 4 corruptions at severities
  1..5 (``SUITE``, ``corrupt_suite``), implemented by family in
  :mod:`.noise`, :mod:`.blur`, :mod:`.weather`, :mod:`.digital`.

The two registries are separate on purpose: ``fog`` here is the paper's haze
blend, ``SUITE["fog"]`` the suite's plasma fog.
"""
from rvlib.corruptions.paper import (_HAZE_HIGH, _HAZE_LOW, _HAZE_OCTAVES, _HAZE_RES,  # noqa: F401
                                     CORRUPTIONS, Corruption, _bits, _cos_turns, _normal,
                                     _uniform, corrupt, corrupt_grid, fog, gaussian,
                                     get_corruption, occlusion, salt_pepper)
from rvlib.corruptions.suite import (BENCHMARK_15, EXTRA_4, FAMILIES, SEVERITIES, SUITE,
                                     TABLES, SuiteCorruption, corrupt_suite, suite_grid)

__all__ = ["Corruption", "CORRUPTIONS", "gaussian", "salt_pepper", "fog", "occlusion",
           "get_corruption", "corrupt", "corrupt_grid", "SuiteCorruption", "SUITE",
           "BENCHMARK_15", "EXTRA_4", "FAMILIES", "SEVERITIES", "TABLES", "corrupt_suite",
           "suite_grid"]
