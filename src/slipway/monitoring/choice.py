"""Which test a column gets when the spec names none: Evidently's rule, exactly.

Reference of at most 1,000 rows (after dropping missing values): a numeric column with more
than 5 distinct values (reference and current together) gets K-S; any other column gets
chi-square when it has more than 2 distinct values, else the two-proportion Z-test. A larger
reference: numeric with more than 5 distinct values gets the normed Wasserstein distance,
anything else Jensen-Shannon.
"""

from __future__ import annotations

from slipway.monitoring.methods import NUMERIC

SMALL_REFERENCE = 1_000
FEW_VALUES = 5


def default_method(kind: str, reference_rows: int, distinct: int) -> tuple[str, str]:
    """The method and the reason it was chosen, e.g. ``("ks", "numeric, 1000 reference rows ≤ 1000, 37 distinct > 5")``."""
    size = f"{reference_rows} reference rows {'≤' if reference_rows <= SMALL_REFERENCE else '>'} {SMALL_REFERENCE}"
    many = distinct > FEW_VALUES
    values = f"{distinct} distinct {'>' if many else '≤'} {FEW_VALUES}"
    if reference_rows <= SMALL_REFERENCE:
        if kind == NUMERIC and many:
            return "ks", f"default: numeric, {size}, {values}"
        if distinct > 2:
            return "chisquare", f"default: {kind}, {size}, {distinct} distinct > 2"
        return "z", f"default: {kind}, {size}, {distinct} distinct ≤ 2"
    if kind == NUMERIC and many:
        return "wasserstein", f"default: numeric, {size}, {values}"
    return "jensenshannon", f"default: {kind}, {size}" + (f", {values}" if kind == NUMERIC else "")
