"""The catalogue of drift tests: name, what it returns, which column kinds it takes, its default
threshold and which side of the threshold means drift (as Evidently 0.7 decides it).

Chi-square, Z, Fisher and G apply to categorical columns when forced (Evidently's rule); the
default choice still gives chi-square or Z to a numeric column with few values.
A method is either a test (a p-value; drift when it is below the threshold) or a distance
(drift when it reaches the threshold). Names are Evidently's, so a spec written for Evidently
reads the same here.
"""

from __future__ import annotations

from dataclasses import dataclass

from slipway.core.errors import InvalidInput

NUMERIC = "numeric"
CATEGORICAL = "categorical"
KINDS = (NUMERIC, CATEGORICAL)


@dataclass(frozen=True)
class Method:
    """One drift test."""

    name: str
    title: str
    kinds: tuple[str, ...]
    returns_p_value: bool
    threshold: float
    inclusive: bool  # drift at score == threshold (p <= t for K-S, d >= t for most distances)

    def drifted(self, score: float, threshold: float) -> bool:
        """The verdict for ``score`` (a p-value or a distance) against ``threshold``."""
        if score != score:  # NaN: the test could not say (e.g. chi-square with a single category)
            return False
        if self.returns_p_value:
            return score <= threshold if self.inclusive else score < threshold
        return score >= threshold if self.inclusive else score > threshold


_BOTH = (NUMERIC, CATEGORICAL)
METHODS: dict[str, Method] = {m.name: m for m in (
    Method("ks", "Kolmogorov-Smirnov p-value", (NUMERIC,), True, 0.05, True),
    Method("chisquare", "chi-square p-value", (CATEGORICAL,), True, 0.05, False),
    Method("z", "two-proportion Z-test p-value", (CATEGORICAL,), True, 0.05, False),
    Method("wasserstein", "Wasserstein distance (normed by the reference std)", (NUMERIC,), False, 0.1, True),
    Method("jensenshannon", "Jensen-Shannon distance", _BOTH, False, 0.1, True),
    Method("psi", "population stability index (reference-decile bins)", _BOTH, False, 0.1, True),
    Method("kl_div", "Kullback-Leibler divergence", _BOTH, False, 0.1, True),
    Method("hellinger", "Hellinger distance", _BOTH, False, 0.1, True),
    Method("anderson", "Anderson-Darling k-sample p-value", (NUMERIC,), True, 0.1, False),
    Method("cramer_von_mises", "Cramer-von Mises p-value", (NUMERIC,), True, 0.1, False),
    Method("mannw", "Mann-Whitney U p-value (one-sided, as Evidently)", (NUMERIC,), True, 0.05, False),
    Method("t_test", "Student t-test p-value", (NUMERIC,), True, 0.05, False),
    Method("ed", "energy distance", (NUMERIC,), False, 0.1, False),
    Method("fisher_exact", "Fisher exact test p-value (two categories)", (CATEGORICAL,), True, 0.1, False),
    Method("g_test", "G-test p-value", (CATEGORICAL,), True, 0.1, False),
)}
ALIASES = {"kolmogorov_smirnov": "ks", "chi2": "chisquare", "js": "jensenshannon", "kl": "kl_div",
           "energy": "ed", "mann_whitney": "mannw", "ttest": "t_test", "fisher": "fisher_exact",
           "gtest": "g_test", "cvm": "cramer_von_mises", "anderson_darling": "anderson"}


def method(name: str) -> Method:
    """The method called ``name`` (Evidently's name or an alias).

    Raises:
        InvalidInput: no method has that name.
    """
    key = ALIASES.get(name, name)
    if key not in METHODS:
        raise InvalidInput(f"unknown drift method {name!r}; choose one of {', '.join(sorted(METHODS))}")
    return METHODS[key]
