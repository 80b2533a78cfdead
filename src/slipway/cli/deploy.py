"""``slipway deploy``: apply, status, promote, rollback, history, render, list, delete."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml

from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, console, print_json, show
from slipway.core.clock import iso
from slipway.core.records import as_plain

app = typer.Typer(help="Deployments: variants, canary, shadow and A/B traffic.", no_args_is_help=True)


def _variant_rows(deployment) -> list[list[object]]:
    return [[v.name, v.role, f"{v.model}/{v.version}", v.ref, f"{v.weight:g}%"] for v in deployment.variants]


@app.command("apply")
def apply(spec: Path = typer.Argument(..., help="A deployment YAML file."), as_json: bool = JsonOption) -> None:
    """Create or update a deployment from its YAML spec."""
    deployment = workspace().serving.apply(spec if spec.suffix in {".yaml", ".yml"} else spec.read_text())
    show(deployment, as_json, f"deployment {deployment.name} (revision {deployment.revision}, {deployment.status})",
         ["variant", "role", "version", "ref", "weight"], _variant_rows(deployment))


@app.command("list")
def list_deployments(as_json: bool = JsonOption) -> None:
    """Every deployment."""
    items = workspace().serving.list_deployments()
    show(items, as_json, "deployments", ["name", "status", "revision", "variants"],
         [[d.name, d.status, d.revision, ", ".join(f"{v.name}={v.model}/{v.version}@{v.weight:g}%" for v in d.variants)]
          for d in items])


@app.command("status")
def status(name: str, as_json: bool = JsonOption) -> None:
    """Variants, weights, per-variant measurements (with the shadow comparison) and the last decision."""
    result = workspace().serving.status(name)
    if as_json:
        print_json(result)
        return
    d = result.deployment
    rows = []
    for v in d.variants:
        s = result.variants.get(v.name, {})
        p_keys = [k for k in s if k.startswith("latency_p") and k != "latency_p50_ms"]
        shadow = (f"agree {s['agreement_rate']:.1%}, |diff| {s['mean_abs_diff']:.4g}" if "agreement_rate" in s else "")
        clicks = f"{s['click_through']:.1%} of {s['feedback']}" if "click_through" in s else ""
        rows.append([v.name, v.role, f"{v.model}/{v.version}", f"{v.weight:g}%", s.get("requests", 0),
                     f"{s.get('error_rate', 0):.2%}", s.get("latency_p50_ms"), s.get(p_keys[0]) if p_keys else None,
                     clicks, shadow])
    show(result, False, f"deployment {d.name}: {d.status}, revision {d.revision}, canary step {d.canary_step}",
         ["variant", "role", "version", "weight", "requests", "errors", "p50 ms", "p-tail ms", "click-through",
          "shadow vs primary"], rows)
    if result.last_decision:
        console.print(f"last decision: {result.last_decision['action']}: {result.last_decision.get('reason', '')}",
                      highlight=False)


@app.command("promote")
def promote(name: str, reason: str = typer.Option("manual promotion", help="Why (audited)."),
            as_json: bool = JsonOption) -> None:
    """Make the canary the stable variant at 100% (marks it deployed, moves the alias)."""
    d = workspace().serving.promote(name, reason)
    show(d, as_json, f"deployment {d.name} promoted", ["variant", "role", "version", "ref", "weight"], _variant_rows(d))


@app.command("rollback")
def rollback(name: str, reason: str = typer.Option("manual rollback", help="Why (audited)."),
             as_json: bool = JsonOption) -> None:
    """Send all traffic back to the stable variants and drop the canary."""
    d = workspace().serving.rollback(name, reason)
    show(d, as_json, f"deployment {d.name} rolled back", ["variant", "role", "version", "ref", "weight"], _variant_rows(d))


@app.command("delete")
def delete(name: str, reason: str = typer.Option("deleted with slipway deploy delete", help="Why (audited)."),
           as_json: bool = JsonOption) -> None:
    """Take a deployment out of service (no variants, status deleted). Its history, payload log and
    feedback stay; `slipway deploy apply` of a spec of the same name brings it back. Deleting a
    deleted deployment changes nothing."""
    d = workspace().serving.delete(name, reason)
    if as_json:
        print_json(d)
    else:
        console.print(f"deployment {d.name} deleted (revision {d.revision}, {d.status}): it no longer serves; its "
                      f"history stays (`slipway deploy history {d.name}`)", highlight=False)


@app.command("history")
def history(name: str, limit: int = typer.Option(50, help="How many entries."), as_json: bool = JsonOption) -> None:
    """What happened to a deployment, newest first, with the numbers behind each canary decision."""
    entries = workspace().serving.history(name, limit)
    show(entries, as_json, f"history of {name}", ["time", "revision", "action", "actor", "reason"],
         [[iso(e.created_ms), e.revision, e.action, e.actor, e.details.get("reason", "")] for e in entries])


@app.command("render")
def render(name: str, target: str = typer.Option("kubernetes", help="kubernetes or kserve."),
           image: str = typer.Option("", help="Container image (default: the one 'slipway build --deployment NAME' "
                                              "builds, slipway-serve:VERSION-DIGEST)."),
           namespace: str = typer.Option("default"), output: Path = typer.Option(None, help="Write YAML here."),
           as_json: bool = JsonOption) -> None:
    """Render Kubernetes or KServe manifests for a deployment."""
    manifests = workspace().serving.render(name, target, image, namespace)
    if as_json:
        print_json(manifests)
        return
    text = yaml.safe_dump_all(as_plain(manifests), sort_keys=False)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text)
        console.print(f"wrote {len(manifests)} manifest(s) to {output}")
