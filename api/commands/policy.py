"""`fenrun policy evaluate`: learn a budgeted rate policy from a simulated log and compare it with
fixed rates, the threshold rule and an oracle on the same mall, through the same guardrails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

policy_app = typer.Typer(help="Rate policy: learned commission rates under a budget.",
                         no_args_is_help=True)

# The simulated mall's settings, shared by `evaluate` and `register`.
Exploration = Annotated[float, typer.Option(help="exploration share of the logged history")]
ResponseMean = Annotated[float, typer.Option("--response-mean")]
ResponseSpread = Annotated[float, typer.Option("--response-spread")]
BudgetShare = Annotated[float, typer.Option("--budget-share",
                                            help="commission / net GMV ceiling")]


@policy_app.command("evaluate")
def evaluate_command(
    promoters: Annotated[int, typer.Option(help="promoters per simulated mall")] = 5000,
    seeds: Annotated[int, typer.Option(help="number of seeds")] = 3,
    seed_base: Annotated[int, typer.Option("--seed-base", help="first seed")] = 101,
    cycles: Annotated[int, typer.Option(help="cycles each policy runs forward")] = 12,
    exploration: Exploration = 0.10,
    response_mean: ResponseMean = 0.8,
    response_spread: ResponseSpread = 0.4,
    budget_share: BudgetShare = 0.125,
    json_path: Annotated[Path | None, typer.Option("--json", help="write the result here")
                         ] = None,
    mlflow_log: Annotated[bool, typer.Option("--mlflow/--no-mlflow")] = False,
) -> None:
    """Simulate a logged history, learn from it, run every policy forward, print the table."""
    from features.simulator.response_config import ResponseConfig
    from serving.guardrails import GuardrailSettings, RateGuard
    from training.policy.config import PolicyConfig
    from training.policy.evaluation import EvaluationRequest, evaluate_policies
    from training.policy.report import format_table

    if not 1 <= seeds <= 100:
        raise typer.BadParameter(f"seeds: {seeds} is outside 1..100")
    try:
        request = EvaluationRequest(
            promoters=promoters, seeds=tuple(range(seed_base, seed_base + seeds)),
            cycles=cycles, exploration=exploration,
            response=ResponseConfig(response_mean=response_mean,
                                    response_spread=response_spread),
            policy=PolicyConfig(budget_share=budget_share))
        result = evaluate_policies(request, RateGuard(GuardrailSettings()))
    except ValueError as error:
        typer.echo(f"fenrun: {error}", err=True)
        raise typer.Exit(2) from error
    typer.echo(format_table(result))
    typer.echo(f"time {result['seconds']:.1f}s")
    if json_path is not None:
        json_path.write_text(json.dumps(result, indent=1, default=float), encoding="utf-8")
    if mlflow_log:
        from training.config import TrainingSettings
        from training.policy.tracking import log_evaluation

        typer.echo(f"mlflow run {log_evaluation(TrainingSettings(), result)}")


@policy_app.command("register")
def register_command(
    promoters: Annotated[int, typer.Option(help="promoters of the simulated mall")] = 5000,
    seed: Annotated[int, typer.Option(help="seed of the simulated mall and log")] = 101,
    history_cycles: Annotated[int, typer.Option("--history-cycles",
                                                help="logged cycles to learn from")] = 8,
    exploration: Exploration = 0.10,
    response_mean: ResponseMean = 0.8,
    response_spread: ResponseSpread = 0.4,
    budget_share: BudgetShare = 0.125,
) -> None:
    """Learn from a simulated log and register fenrun-rate-response / fenrun-rate-policy; the
    policy becomes champion only if its DR estimate beats the champion's (or fixed rates')."""
    from features.simulator.response_config import ResponseConfig
    from training.config import TrainingSettings
    from training.policy.config import PolicyConfig
    from training.policy.register import learn_from_simulation, register_policy

    if not 1 <= history_cycles <= 52:
        raise typer.BadParameter(f"history_cycles: {history_cycles} is outside 1..52")
    try:
        config = PolicyConfig(budget_share=budget_share)
        response = ResponseConfig(response_mean=response_mean, response_spread=response_spread)
        model, frame, decision = learn_from_simulation(response, promoters, seed,
                                                       history_cycles, exploration, config)
    except ValueError as error:
        typer.echo(f"fenrun: {error}", err=True)
        raise typer.Exit(2) from error
    done = register_policy(TrainingSettings(), model, frame, decision, config)
    for decision_ in (done.policy, done.response):
        state = (f"v{decision_.version} -> {decision_.alias}" if decision_.registered
                 else "nothing registered")
        typer.echo(f"{decision_.model_name}: {state}")
    typer.echo(f"rule: {done.policy.rule}")
    typer.echo(f"mlflow run {done.run_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")
