"""`fenrun rates what-if` and `fenrun rates experiment report`: what the pending rates would have
cost over a past window (re-settled in scratch books, never the real ones), and what the rate
changes realised against the control group.

Both join the `fenrun rates` group of `api.commands.rates`; errors go through api.exits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.common import fail, open_books, parse_as_of
from api.exits import exit_codes

experiment_app = typer.Typer(help="The rate experiment: treated against control.",
                             no_args_is_help=True)


def _signed(minor: int, currency: str) -> str:
    from settlement.money import format_amount

    return ("-" if minor < 0 else "+") + format_amount(abs(minor), currency)


def _amount(minor: int, currency: str) -> str:
    from settlement.money import format_amount

    return ("-" if minor < 0 else "") + format_amount(abs(minor), currency)


def what_if_command(
    from_: Annotated[str, typer.Option("--from", help="window start, ISO-8601 with offset")],
    to: Annotated[str, typer.Option("--to", help="window end, ISO-8601 with offset")],
    rates: Annotated[Path | None, typer.Option(
        "--rates", help="YAML mapping promoter -> rate (\"0.12\"); default: the pending "
                        "suggestions' proposed rates")] = None,
    top: Annotated[int, typer.Option(help="lines shown per breakdown", min=1, max=1000)] = 15,
) -> None:
    """Re-settle a past window under the pending (or given) level-1 rates in scratch books and
    print the commission cost change per segment, merchant and level, exact to the fen, beside
    the change the model predicted."""
    from serving.config import ServingSettings
    from serving.rate_whatif import what_if_report
    from settlement.whatif import parse_rates_text

    start, end = parse_as_of(from_, "--from"), parse_as_of(to, "--to")
    given = None
    if rates is not None:
        try:
            text = rates.read_text(encoding="utf-8")
        except OSError as error:
            fail(f"--rates: cannot read {rates}: {error.strerror}")
    engine = open_books(create=False)
    try:
        with exit_codes():
            given = parse_rates_text(text, f"--rates {rates}") if rates is not None else None
            report = what_if_report(engine, start, end, given, ServingSettings())
    finally:
        engine.dispose()
    change = report.change
    cur = change.currency
    typer.echo(f"what-if {start.isoformat()} .. {end.isoformat()}: {len(change.rates)} "
               f"promoters re-rated ({report.source}), re-settled in scratch books; {cur}")
    total = change.total
    typer.echo(f"commission in the window: books {_amount(total.baseline_minor, cur)}, "
               f"scenario {_amount(total.scenario_minor, cur)}, change "
               f"{_signed(total.change_minor, cur)}")
    for title, lines in (("segment", change.by_segment), ("merchant", change.by_merchant),
                         ("level", change.by_level), ("promoter", change.by_promoter)):
        typer.echo(f"by {title} ({min(top, len(lines))} of {len(lines)}, largest change first):")
        typer.echo(f"  {title:<24}{'books':>14}{'scenario':>14}{'change':>14}")
        for line in lines[:top]:
            typer.echo(f"  {line.key[:24]:<24}{_amount(line.baseline_minor, cur):>14}"
                       f"{_amount(line.scenario_minor, cur):>14}"
                       f"{_signed(line.change_minor, cur):>14}")
    if report.predicted:
        typer.echo(f"predicted change per cycle, summed over {report.suggestions} suggestion(s) "
                   "(interval ends summed: a conservative band):")
        for metric, (delta, low, high) in report.predicted.items():
            typer.echo(f"  {metric:<12}{delta:>12}  ({low} to {high})")
    else:
        typer.echo("no stored suggestion predicts these rates: no predicted change to show")


@experiment_app.command("report")
def experiment_report_command(
    experiment: Annotated[str | None, typer.Option(help="experiment id (default: newest)")
                          ] = None,
    to: Annotated[str | None, typer.Option("--to", help="end of the measured window "
                                           "(default: the experiment's end, else the newest "
                                           "event)")] = None,
) -> None:
    """Realised treated − control difference (margin, GMV, commission per promoter per cycle;
    retention) with Welch t intervals, beside the uplift the suggestions predicted."""
    from training.ltv.config import MarginSettings
    from training.ltv.margin import MarginError
    from training.rate_experiment import experiment_report

    end = parse_as_of(to, "--to") if to is not None else None
    try:
        margins = MarginSettings().rates()
    except MarginError as error:
        fail(str(error))
    engine = open_books(create=False)
    try:
        with exit_codes():
            report = experiment_report(engine, margins, experiment_id=experiment, end=end)
    finally:
        engine.dispose()
    typer.echo(f"experiment {report.experiment_id}: {report.start.isoformat()} .. "
               f"{report.end.isoformat()}, {report.treated} treated, {report.control} control; "
               f"per promoter per {report.cycle_days}-day cycle, {report.currency}")
    typer.echo(f"intervals: {report.method}" + (f" ({report.note})" if report.note else ""))
    typer.echo(f"  {'metric':<12}{'treated':>11}{'control':>11}{'difference':>12}"
               f"{'interval':>24}   predicted")
    for c in report.comparisons:
        band = ("-" if c.low is None or c.high is None
                else f"{c.low:.2f} to {c.high:.2f}")
        predicted = ("-" if c.predicted is None
                     else f"{c.predicted[0]:+.2f} ({c.predicted[1]:.2f} to {c.predicted[2]:.2f})")
        typer.echo(f"  {c.metric:<12}{c.treated_mean:>11.2f}{c.control_mean:>11.2f}"
                   f"{c.difference:>+12.2f}{band:>24}   {predicted}")


def register(app: typer.Typer) -> None:
    """Join the `fenrun rates` group (`api.commands.rates` registers it)."""
    from api.commands.rates import rates_app

    rates_app.command("what-if")(what_if_command)
    rates_app.add_typer(experiment_app, name="experiment")
