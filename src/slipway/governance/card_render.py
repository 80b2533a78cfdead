"""Rendering a model card (the mapping from :func:`build_card`) as Markdown or HTML."""

from __future__ import annotations

import html
from typing import Any

import orjson

from slipway.core.clock import iso
from slipway.core.errors import InvalidInput

FORMATS = ("md", "html", "json")


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _dataset(d: dict[str, Any]) -> str:
    return f"{d.get('dataset')} version {d.get('version')} (digest {str(d.get('digest', ''))[:12]})"


def _left_out(card: dict[str, Any]) -> str | None:
    """The line saying what a project-bound reader's card leaves out (None: nothing was)."""
    projects = card.get("lineage_hidden")
    if not projects:
        return None
    return (f"_Left out: what is in project(s) {', '.join(projects)}, which you may not read; the run, data and "
            "lineage shown are partial._")


def render_markdown(card: dict[str, Any]) -> str:
    left_out = _left_out(card)
    out = [f"# Model card: {card['model']} version {card['version']}", "",
           f"- **State:** {card['state']}", f"- **Owner:** {card['owner']}", f"- **Risk tier:** {card['risk_tier']}",
           f"- **Flavor:** {card['flavor']}", f"- **Run:** {card['run_id'] or 'n/a'}",
           f"- **Bundle digest:** {card['bundle_digest']}", f"- **Aliases:** {', '.join(card['aliases']) or 'none'}",
           f"- **Registered by:** {card['created_by']} at {iso(card['created_ms'])}", f"- **Card revision:** {card['revision']}"]
    if left_out:
        out += ["", left_out]
    if card["description"]:
        out += ["", card["description"]]
    for name, section in card["sections"].items():
        out += ["", f"## {_title(name)}", "", section["text"] or "_Not written yet._"]
    out += ["", "## Known issues (generated)", ""] + ([f"- {i}" for i in card["known_issues"]] or ["_None found._"])
    out += ["", "## Training data", ""] + ([f"- {_dataset(d)}" for d in card["training_data"]] or ["_None recorded._"])
    out += ["", "## Evaluation data", ""] + ([f"- {_dataset(d)}" for d in card["evaluation_data"]] or ["_None recorded._"])
    out += ["", "## Metrics", "", "| metric | value |", "|---|---|"]
    out += [f"| {k} | {v:.4g} |" if isinstance(v, int | float) else f"| {k} | {v} |" for k, v in sorted(card["metrics"].items())]
    out += ["", "## Fairness", ""]
    fairness = card["fairness"]
    if fairness is None:
        out.append("_No fairness evaluation recorded._")
    else:
        out.append(f"Report {fairness['report_version']} on {fairness['dataset'] or 'unnamed data'} "
                   f"(blob {fairness['digest'][:12]}), by {fairness['created_by']}.")
        out += ["", "| attribute | disparate impact | DP difference | EO difference | four-fifths | small groups |",
                "|---|---|---|---|---|---|"]
        for attr, m in fairness["summary"].items():
            out.append(f"| {attr} | {_fmt(m['disparate_impact_ratio'])} | {_fmt(m['demographic_parity_difference'])} | "
                       f"{_fmt(m['equalized_odds_difference'])} | {'pass' if m['four_fifths_passed'] else 'FAIL'} | "
                       f"{', '.join(m['small_groups']) or 'none'} |")
    out += ["", "## Approvals", ""]
    for request in card["approvals"]:
        ticket = f", change {request['ticket_number']}" if request.get("ticket_number") else ""
        out.append(f"- Request {request['request_id']} by {request['requested_by']} ({request['status']}, "
                   f"{request['required']} needed{ticket}): {request['reason']}")
        out += [f"  - {d['decision']} by **{d['approver']}**{' in change ' + d['ticket'] if d.get('ticket') else ''} "
                f"at {iso(d['at_ms'])}: {d['comment']}" for d in request["decisions"]]
    if not card["approvals"]:
        out.append("_No approval requested._")
    out += ["", "## Lineage", ""] + ([f"- {e['src']} --{e['relation']}--> {e['dst']}" for e in card["lineage"]] or ["_None recorded._"])
    if left_out:
        out += ["", left_out]
    return "\n".join(out) + "\n"


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "n/a"


def render_html(card: dict[str, Any]) -> str:
    """A self-contained HTML page; every value is escaped."""
    lines = render_markdown(card).splitlines()
    body, in_table, in_list = [], False, False
    for line in lines:
        if in_table and not line.startswith("|"):
            body.append("</table>")
            in_table = False
        if in_list and not line.startswith(("- ", "  - ")):
            body.append("</ul>")
            in_list = False
        if line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cells)) <= {"-"}:
                continue
            tag = "th" if not in_table else "td"
            if not in_table:
                body.append("<table>")
                in_table = True
            body.append("<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>")
        elif line.startswith(("- ", "  - ")):
            if not in_list:
                body.append("<ul>")
                in_list = True
            body.append(f"<li>{html.escape(line.strip()[2:]).replace('**', '')}</li>")
        elif line.startswith("_") and line.endswith("_") and len(line) > 2:
            body.append(f"<p><em>{html.escape(line[1:-1])}</em></p>")
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    if in_table:
        body.append("</table>")
    if in_list:
        body.append("</ul>")
    title = html.escape(f"Model card: {card['model']} version {card['version']}")
    style = "body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em}"
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"


def render(card: dict[str, Any], fmt: str) -> str:
    if fmt == "md":
        return render_markdown(card)
    if fmt == "html":
        return render_html(card)
    if fmt == "json":
        return orjson.dumps(card, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    raise InvalidInput(f"unknown card format {fmt!r}; use {', '.join(FORMATS)}")
