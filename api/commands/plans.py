"""`fenrun plan`: store commission plan versions and read back what is stored.

`apply` writes (and creates the books if needed); `list`, `show` and `diff` only read, so they fail
on a missing database instead of creating one. Rates are shown as written in the plan, with the
percentage beside them, so what a person reads is exactly what settles.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from api.common import apply_plan_file, fail, open_books, parse_as_of
from settlement.errors import PlanError
from settlement.money import format_amount
from settlement.plan import PlanBook, PlanVersion, plan_warnings
from settlement.plan_rules import RULE_KEYS
from settlement.plan_store import StoredVersion, stored_versions

plan_app = typer.Typer(help="Commission plan versions.", no_args_is_help=True)


@plan_app.command("apply")
def plan_apply(path: Path) -> None:
    """Store the plan versions of a YAML file (several versions may be separated by ---)."""
    added = apply_plan_file(open_books(), path)
    typer.echo(f"stored {len(added)} new plan version(s): {', '.join(added) or 'none'}")


def _stored() -> list[StoredVersion]:
    engine = open_books(create=False)
    try:
        with engine.connect() as conn:
            versions = stored_versions(conn)
    finally:
        engine.dispose()
    if not versions:
        fail("no plan version is stored: run `fenrun plan apply PLAN.yaml`")
    return versions


@plan_app.command("list")
def plan_list() -> None:
    """Every stored version: id, effective_from, currency, content hash, when it was recorded."""
    typer.echo(f"{'version':<22}{'effective_from':<27}{'currency':<10}{'content_hash':<18}"
               "recorded_at")
    for stored in _stored():
        v = stored.version
        typer.echo(f"{v.version_id:<22}{v.effective_from.isoformat():<27}{v.currency:<10}"
                   f"{v.content_hash[:16]:<18}{stored.recorded_at.isoformat(timespec='seconds')}")


def _pick(versions: list[StoredVersion], version_id: str | None, at: str | None) -> PlanVersion:
    book = PlanBook([stored.version for stored in versions])
    try:
        if version_id is not None:
            return book.by_id(version_id)
        if at is not None:
            return book.version_at(parse_as_of(at, "--at"))
    except PlanError as error:
        fail(str(error))
    return book.versions[-1]


def _rate(text: str) -> str:
    """"0.05" as "0.05 (5%)": the rate as written, and its percentage."""
    percent = (Decimal(text) * 100).normalize()
    return f"{text} ({percent:f}%)"


def _describe(version: PlanVersion) -> list[str]:
    doc = version.document
    lines = [f"version {version.version_id} ({version.currency}, content hash "
             f"{version.content_hash[:16]})",
             f"levels: {', '.join(_rate(r) for r in doc['levels'])}",
             f"platform take rate: {_rate(doc['platform_take_rate'])}"]
    for name, category in sorted(doc.get("categories", {}).items()):
        levels = category.get("levels") or doc["levels"]
        take = category.get("platform_take_rate") or doc["platform_take_rate"]
        lines.append(f"category {name}: levels {', '.join(_rate(r) for r in levels)}; "
                     f"platform take rate {_rate(take)}")
    overrides = doc.get("promoter_overrides") or {}
    if overrides:
        lines.append(f"promoter overrides (level-1 base rate): {len(overrides)}")
        lines += [f"  {promoter}: {_rate(rate)}" for promoter, rate in sorted(overrides.items())]
    rule = doc["attribution"]
    extra = [f"{key} {rule[key]}" for key in ("first", "last", "half_life_days")
             if rule.get(key) is not None]
    lines.append(", ".join([f"attribution: {rule['model']}",
                            f"lookback {rule['lookback_days']} days", *extra]))
    lines += [f"customer binding: {doc['customer_binding']}",
              f"hold: {doc['hold_days']} days",
              f"payout minimum: {format_amount(version.payout_minimum_minor, version.currency)} "
              f"{version.currency}",
              f"review limit: {format_amount(version.review_limit_minor, version.currency)} "
              f"{version.currency}"]
    for key in ("promoter_overrides", *RULE_KEYS):  # plans v2 keys, as written
        if doc.get(key) is not None:
            lines.append(f"{key.replace('_', ' ')}: {_shown(doc[key])}")
    lines += [f"warning: {warning}" for warning in plan_warnings(version)]
    return lines


@plan_app.command("show")
def plan_show(
    version: Annotated[str | None, typer.Argument(help="version id; default the newest")] = None,
    at: Annotated[str | None, typer.Option("--at", help="the version in force then")] = None,
) -> None:
    """The rules of one version in readable form."""
    if version is not None and at is not None:
        fail("give a VERSION or --at, not both")
    for line in _describe(_pick(_stored(), version, at)):
        typer.echo(line)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys; lists stay whole (a list of level rates is one rule)."""
    if not isinstance(value, dict):
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _keys(version: PlanVersion) -> dict[str, Any]:
    return _flatten({**version.document, "effective_from": version.version_id})


def _shown(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value)


@plan_app.command("diff")
def plan_diff(
    old: Annotated[str, typer.Argument(help="version id")],
    new: Annotated[str, typer.Argument(help="version id")],
) -> None:
    """What changed from version OLD to version NEW, key by key."""
    versions = _stored()
    before, after = _keys(_pick(versions, old, None)), _keys(_pick(versions, new, None))
    changed = [key for key in sorted(before.keys() | after.keys())
               if before.get(key) != after.get(key)]
    for key in changed:
        typer.echo(f"{key}: {_shown(before.get(key))} -> {_shown(after.get(key))}")
    if not changed:
        typer.echo("no difference")


def register(app: typer.Typer) -> None:
    app.add_typer(plan_app, name="plan")
