"""A YAML parse error as one line: where it is and what is wrong.

PyYAML's ``str(err)`` spans several lines (the context, the offending line quoted, a caret under
it), which broke the CLI's rule that a mistake is one line. Every spec, policy, schema, feature
definition and platform folder Slipway reads reports the same short form.
"""

from __future__ import annotations

import yaml


def yaml_problem(err: yaml.YAMLError) -> str:
    """``line 3, column 5: expected ',' or '}', but got '<stream end>'`` (1-based, as editors count).

    Example:
        >>> raise InvalidInput(f"policy is not valid YAML: {yaml_problem(err)}") from err
    """
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    context = getattr(err, "context", None)
    return f"{where}{problem}" + (f" ({context})" if context else "")
