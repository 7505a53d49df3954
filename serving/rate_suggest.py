"""`fenrun rates suggest`: one immutable suggestion per active promoter, from the policy champion
through the guardrails, stored with its evidence (settlement.rate_suggestions).

The run, in order:
1. Kill switch on: record a run that says so, store nothing, change nothing.
2. Inputs as of T from the books (`features.rate_inputs`), the risk flag list at or before T,
   each promoter's level-1 rate in force at T and cycles since its last applied change.
3. Experiment: with a control share, the open experiment (or a new one with a recorded seed)
   puts each promoter in control or treated (`draw_arm`, replayable from the seed).
4. Proposal: the policy champion (`fenrun-rate-policy`, loaded only through `ChampionRegistry`)
   allocates the ladder under the budget; then `exploration_share` of promoters are moved one
   ladder step at random, so the next model can learn. The probability of the proposed rate is
   exact under that rule: (1 - e) for the policy's own arm (plus e/2 per step that would leave
   the ladder), e/2 for a neighbour, times the arm's probability when there is an experiment.
   **Cold start** (no champion, or one whose logged history held no explored rate: the
   training path refuses to register without enough explored rows, so a champion normally
   carries its evidence): no rate is predicted; only `cold_start_exploration` of promoters are
   moved one step at random from their current rate, and every suggestion says so. The run's
   summary also says when this mall's own books hold no explored rates yet.
5. Guardrails (`serving.guardrails`, fixed order, one shared budget allowance, savings and then
   the biggest predicted gain first; control rows after the treated ones); the trail is stored
   verdict by verdict.
6. Predicted change in margin, commission and GMV per cycle at the final rate against the
   current one (`fenrun-rate-response`), with the interval of the elasticity bags; drivers and
   words (`rate_explain`).
7. Status: control (never applied), blocked (a guardrail refused), pending (waits for a person,
   or advice only in shadow mode), no_change; in live mode with auto-approval, changes the
   guardrails did not send to a person are approved at once, effective after the notice period.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine

from features.rate_inputs import (
    CATEGORY_NAMES,
    CHANNEL_NAMES,
    POLICY_COLUMNS,
    load_rate_frames,
    rate_inputs,
)
from serving import rate_explain as words
from serving.champions import Champion, ChampionRegistry
from serving.config import ServingSettings
from serving.errors import NoChampion, NoSnapshot
from serving.guardrails import Decision, Outcome, Proposal, review_batch
from serving.rate_config import RateSettings
from settlement import rate_overrides, read_model
from settlement import rate_suggestions as rs

POLICY = "fenrun-rate-policy"
RESPONSE = "fenrun-rate-response"
MODEL_INPUTS = ["promoter", *POLICY_COLUMNS]
NAMES = {"channel": CHANNEL_NAMES, "category": CATEGORY_NAMES}
Z95 = 1.96


@dataclass
class SuggestOutcome:
    """What one run did: its id, the suggestions by status, and what it said."""

    run_id: str
    cold_start: bool
    kill_switch: bool
    summary: str
    suggestion_ids: list[str] = field(default_factory=list)
    by_status: dict[str, int] = field(default_factory=dict)
    auto_approved_version: str | None = None


@dataclass
class _Scored:
    """Per active promoter (rows of `inputs`): the proposal before the guardrails."""

    ladder: np.ndarray
    policy_rate: np.ndarray
    proposed_rate: np.ndarray
    propensity: np.ndarray
    explored: np.ndarray
    relative_width: np.ndarray  # nan without a model
    cost_current: np.ndarray
    cost_proposed: np.ndarray
    gain: np.ndarray


def suggest_rates(engine: Engine, registry: ChampionRegistry, settings: RateSettings,
                  serving: ServingSettings, *, as_of: datetime, now: datetime, by: str,
                  seed: int | None = None) -> SuggestOutcome:
    """Run one suggestion round as of `as_of` (module doc); `now` is the wall clock of the run."""
    mode = rs.SuggestionMode(settings.mode)
    if settings.kill_switch:
        summary = "kill switch is on: nothing was suggested and nothing changed"
        run = rs.SuggestionRun(as_of, now, mode, True, False, {}, summary, by)
        with engine.begin() as conn:
            rs.store_run(conn, run, [])
        return SuggestOutcome(run.run_id, False, True, summary)
    champions = _champions(registry)
    flagged, flag_note = _risk_flags(serving, as_of)
    with engine.begin() as conn:
        inputs = _active_inputs(conn, settings, as_of, flagged)
        rates = rate_overrides.level1_rates(conn, as_of)
        if inputs.empty:
            summary = f"no active promoter as of {as_of.isoformat()}: nothing to suggest"
            run = rs.SuggestionRun(as_of, now, mode, False, champions is None, {}, summary, by)
            rs.store_run(conn, run, [])
            return SuggestOutcome(run.run_id, champions is None, False, summary)
        current = np.array([float(rates.of(p)) for p in inputs["promoter_id"]])
        arms, experiment_id = _experiment(conn, settings, inputs, now, by)
        rng = np.random.default_rng(seed if seed is not None else secrets.randbits(63))
        scored = (_learned(champions, inputs, current, settings, rng) if champions
                  else _cold_start(inputs, current, settings, rng))
        control = np.array([arms.get(p) is rs.ExperimentArm.CONTROL
                            for p in inputs["promoter_id"]], dtype=bool)
        decisions = _guarded(conn, inputs, current, scored, settings, as_of, control)
        versions = ({c.name: c.version for c in champions} if champions else {})
        suggestions = _suggestions(inputs, current, scored, decisions, arms, champions,
                                   settings, rates, as_of)
        summary = _summary(champions, suggestions, flag_note, conn)
        run = rs.SuggestionRun(as_of, now, mode, False, champions is None, versions, summary,
                               by, experiment_id)
        ids = rs.store_run(conn, run, suggestions)
        _log_unchanged(conn, run, ids, suggestions, by)
    outcome = SuggestOutcome(run.run_id, champions is None, False, summary, ids)
    for s in suggestions:
        outcome.by_status[s.initial_status.value] = outcome.by_status.get(
            s.initial_status.value, 0) + 1
    if mode is rs.SuggestionMode.LIVE and settings.auto_approve:
        outcome.auto_approved_version = _auto_approve(engine, settings, ids, suggestions, now)
        if outcome.auto_approved_version is not None:
            done = sum(1 for s in suggestions if _auto(s, settings))
            outcome.by_status["pending"] -= done
            outcome.by_status["auto_approved"] = done
    return outcome


def _champions(registry: ChampionRegistry) -> tuple[Champion, Champion] | None:
    """Both champions, or None (cold start) when either is missing or the policy's history held
    no explored rate at all (then its choices would be guesses, not estimates)."""
    try:
        policy, response = registry.get(POLICY), registry.get(RESPONSE)
    except NoChampion:
        return None
    fitted = getattr(policy.model.unwrap_python_model(), "model", None)
    explored = getattr(fitted, "explored_rows", None)
    if explored is not None and sum(explored.values()) == 0:
        return None
    return policy, response


def _risk_flags(serving: ServingSettings, as_of: datetime) -> tuple[frozenset[str], str]:
    from serving.risk import RiskService

    try:
        triage = RiskService(serving).triage(pd.Timestamp(as_of))
    except NoSnapshot as error:
        return frozenset(), f"no risk flag list was used ({error})"
    ids = frozenset(str(p) for p in triage.flagged["promoter_id"])
    return ids, f"risk flag list of {triage.as_of.isoformat()} ({len(ids)} flagged)"


def _active_inputs(conn: Connection, settings: RateSettings, as_of: datetime,
                   flagged: frozenset[str]) -> pd.DataFrame:
    frames = load_rate_frames(conn, as_of)
    inputs = rate_inputs(frames, as_of, cycle_days=settings.cycle_days,
                         history_cycles=settings.history_cycles, flagged=flagged)
    active = inputs.loc[inputs["active"] == 1].reset_index(drop=True)
    if len(active) > settings.max_promoters:
        raise ValueError(f"promoters: {len(active)} active is above max_promoters "
                         f"{settings.max_promoters}")
    return active


def _experiment(conn: Connection, settings: RateSettings, inputs: pd.DataFrame, now: datetime,
                by: str) -> tuple[dict[str, rs.ExperimentArm], str | None]:
    if settings.control_share <= 0:
        return {}, None
    experiment = read_model.open_experiment(conn)
    if experiment is None:
        seed = (settings.experiment_seed if settings.experiment_seed is not None
                else secrets.randbits(62))
        experiment = rs.start_experiment(conn, settings.control_share, seed, now, by)
    arms = rs.assign_members(conn, experiment, inputs["promoter_id"], now)
    return arms, experiment.experiment_id


def _nearest(ladder: np.ndarray, rates: np.ndarray) -> np.ndarray:
    return np.abs(ladder[None, :] - rates[:, None]).argmin(axis=1)


def explore_one_step(arm: np.ndarray, arms: int, share: float, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Move `share` of rows one step at random; the served arm, its exact probability, and
    whether the row was moved."""
    drawn = rng.random(len(arm)) < share
    step = rng.choice(np.array([-1, 1]), len(arm))
    moved = np.clip(arm + step, 0, arms - 1)
    served = np.where(drawn, moved, arm)
    edges = (arm == 0).astype(float) + (arm == arms - 1).astype(float)
    stay = (1.0 - share) + share / 2 * edges
    propensity = np.where(served == arm, stay, share / 2)
    return served, propensity, served != arm


def _predict(response: Any, inputs: pd.DataFrame, arm: np.ndarray) -> pd.DataFrame:
    out = response.predict(inputs[MODEL_INPUTS].assign(arm=arm.astype(np.int64)))
    if "kept_sd_yuan" not in out.columns:  # registered before the response model gave spreads
        raise ValueError(f"{RESPONSE}: the champion gives no interval (kept_sd_yuan); register "
                         "it again with `fenrun policy register`")
    return out


def _ladder_of(policy: Champion) -> np.ndarray:
    """The champion's ladder (the pyfunc carries its allocation: ladder, budget, exploration)."""
    allocation = getattr(policy.model.unwrap_python_model(), "allocation", None)
    if allocation is None:
        raise ValueError(f"{policy.name} v{policy.version}: the model carries no ladder")
    return np.asarray(allocation.ladder, dtype=float)


def _learned(champions: tuple[Champion, Champion], inputs: pd.DataFrame, current: np.ndarray,
             settings: RateSettings, rng: np.random.Generator) -> _Scored:
    policy, response = champions
    ladder = _ladder_of(policy)
    chosen = policy.model.predict(inputs[MODEL_INPUTS])["arm"].to_numpy().astype(np.int64)
    served, propensity, explored = explore_one_step(chosen, len(ladder),
                                                    settings.exploration_share, rng)
    now_arm = _nearest(ladder, current)
    at_now, at_new = _predict(response.model, inputs, now_arm), _predict(response.model, inputs,
                                                                          served)
    def cost(p: pd.DataFrame) -> np.ndarray:
        return (p["commission_yuan"] - settings.budget_share * p["kept_yuan"]).to_numpy()
    width = 2 * Z95 * at_new["kept_sd_yuan"].to_numpy() / np.maximum(
        at_new["kept_yuan"].to_numpy(), 1.0)
    return _Scored(ladder, ladder[chosen], ladder[served], propensity, explored, width,
                   cost(at_now), cost(at_new),
                   (at_new["margin_yuan"] - at_now["margin_yuan"]).to_numpy())


def _cold_start(inputs: pd.DataFrame, current: np.ndarray, settings: RateSettings,
                rng: np.random.Generator) -> _Scored:
    ladder = np.array([float(r) for r in settings.ladder])
    now_arm = _nearest(ladder, current)
    served, propensity, explored = explore_one_step(now_arm, len(ladder),
                                                    settings.cold_start_exploration, rng)
    proposed = np.where(explored, ladder[served], current)
    n = len(inputs)
    return _Scored(ladder, current.copy(), proposed, propensity, explored, np.full(n, np.nan),
                   np.zeros(n), np.zeros(n), np.zeros(n))


def _cycles_since_change(conn: Connection, promoters: pd.Series, as_of: datetime,
                         cycle_days: int) -> np.ndarray:
    last: dict[str, datetime] = {}
    for row in read_model.rate_assignments(conn, limit=rs.MAX_SUGGESTIONS_PER_RUN):
        if row.plan_version_id is not None and (row.promoter_id not in last
                                                or row.effective_from > last[row.promoter_id]):
            last[row.promoter_id] = row.effective_from
    cycle = timedelta(days=cycle_days)
    return np.array([max(0, (as_of - last[p]) // cycle) if p in last else 10**6
                     for p in promoters], dtype=np.int64)


def _guarded(conn: Connection, inputs: pd.DataFrame, current: np.ndarray, scored: _Scored,
             settings: RateSettings, as_of: datetime, control: np.ndarray) -> list[Decision]:
    """Review every row, back in row order. Treated rows share the budget allowance first
    (priority: savings, then the biggest predicted gain); control rows are reviewed after them
    with what is left, since what treatment would have served them is never spent."""
    since = _cycles_since_change(conn, inputs["promoter_id"], as_of, settings.cycle_days)
    proposals = [
        Proposal(int(i), float(current[i]), float(scored.proposed_rate[i]),
                 bool(inputs["flagged"].iat[i]), int(inputs["orders"].iat[i]),
                 None if np.isnan(scored.relative_width[i]) else float(scored.relative_width[i]),
                 int(since[i]), int(inputs["category"].iat[i]) if inputs["category"].iat[i] >= 0
                 else 0, float(scored.cost_current[i]), float(scored.cost_proposed[i]))
        for i in range(len(inputs))]
    order = np.lexsort((-scored.gain, scored.cost_proposed - scored.cost_current >= 0, control))
    allowance = -float(scored.cost_current.sum())
    treated = [int(i) for i in order if not control[i]]
    reviewed = review_batch([proposals[i] for i in treated], settings.guardrails(), allowance)
    left = reviewed[-1].allowance_after if reviewed else allowance
    held = [int(i) for i in order if control[i]]
    reviewed += review_batch([proposals[i] for i in held], settings.guardrails(), left)
    by_row = dict(zip(treated + held, reviewed, strict=True))
    return [by_row[i] for i in range(len(proposals))]


def _status(decision: Decision, arm: rs.ExperimentArm | None) -> tuple[rs.SuggestionStatus,
                                                                       float]:
    """The suggestion's status and the rate it proposes (before a person's approval)."""
    if arm is rs.ExperimentArm.CONTROL:
        return rs.SuggestionStatus.CONTROL, _pre_approval(decision)
    outcomes = {v.outcome for v in decision.trail}
    if Outcome.BLOCK in outcomes:
        return rs.SuggestionStatus.BLOCKED, decision.final_rate
    if Outcome.NEEDS_APPROVAL in outcomes:
        return rs.SuggestionStatus.PENDING, _pre_approval(decision)
    if abs(decision.final_rate - decision.proposal.current_rate) < 1e-9:
        return rs.SuggestionStatus.NO_CHANGE, decision.final_rate
    return rs.SuggestionStatus.PENDING, decision.final_rate


def _pre_approval(decision: Decision) -> float:
    """The rate the trail reached before the approval rule held it (or the final rate)."""
    for verdict in decision.trail:
        if verdict.outcome is Outcome.NEEDS_APPROVAL or verdict.outcome is Outcome.BLOCK:
            return verdict.rate_before if verdict.outcome is Outcome.NEEDS_APPROVAL else (
                decision.final_rate)
    return decision.final_rate


def _rate(value: float) -> Decimal:
    """A model rate (a float off the ladder) as the decimal a plan carries (6 places)."""
    return Decimal(repr(round(float(value), 6))).normalize()


def _money(value: float) -> str:
    return f"{Decimal(repr(float(value))).quantize(Decimal('0.01')):+}"


def _predicted(response: Any, inputs: pd.DataFrame, now_arm: np.ndarray, new_arm: np.ndarray
               ) -> list[dict[str, rs.PredictedChange]]:
    """Per row: change per cycle in margin, commission, GMV at the new arm vs the current one,
    with a 95 % interval from the spread of kept sales over the elasticity bags."""
    a, b = _predict(response, inputs, now_arm), _predict(response, inputs, new_arm)
    sd = np.hypot(a["kept_sd_yuan"].to_numpy(), b["kept_sd_yuan"].to_numpy())
    kept_b = np.maximum(b["kept_yuan"].to_numpy(), 1e-9)
    take = b["commission_yuan"].to_numpy() / kept_b  # commission per yuan kept at the new arm
    margin_sd = np.abs(inputs["margin_rate"].to_numpy() - take) * sd
    metrics = {"margin": ("margin_yuan", margin_sd), "commission": ("commission_yuan", take * sd),
               "gmv": ("kept_yuan", sd)}
    out: list[dict[str, rs.PredictedChange]] = []
    for i in range(len(inputs)):
        row = {}
        for name, (column, spread) in metrics.items():
            delta = float(b[column].iat[i] - a[column].iat[i])
            half = Z95 * float(spread[i])
            row[name] = rs.PredictedChange(_money(delta), _money(delta - half),
                                           _money(delta + half))
        out.append(row)
    return out


def _drivers(response: Any, inputs: pd.DataFrame, now_arm: np.ndarray, new_arm: np.ndarray,
             rows: np.ndarray) -> dict[int, tuple[rs.Driver, ...]]:
    if not len(rows):
        return {}
    subset = inputs.iloc[rows].reset_index(drop=True)
    typical = words.typical_values(inputs)

    def gain_of(frame: pd.DataFrame) -> np.ndarray:
        a = _predict(response, frame, now_arm[rows])["margin_yuan"].to_numpy()
        return _predict(response, frame, new_arm[rows])["margin_yuan"].to_numpy() - a
    effects = words.driver_effects(subset, gain_of, typical)
    return {int(row): words.top_drivers(subset.iloc[k], {n: float(e[k]) for n, e in
                                                          effects.items()}, typical, NAMES)
            for k, row in enumerate(rows)}


def _fingerprint(row: pd.Series, current: float, as_of: datetime) -> str:
    values = {c: (None if pd.isna(row[c]) else float(row[c])) for c in POLICY_COLUMNS}
    text = json.dumps({"inputs": values, "current": current, "as_of": as_of.isoformat(),
                       "promoter_id": row["promoter_id"]}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _cadence(row: pd.Series, settings: RateSettings) -> str:
    trusted = (row["grade"] >= settings.immediate_min_grade
               and row["tenure"] >= settings.immediate_min_tenure and not row["flagged"])
    return "immediate" if trusted else "standard"


def _suggestions(inputs: pd.DataFrame, current: np.ndarray, scored: _Scored,
                 decisions: list[Decision], arms: dict[str, rs.ExperimentArm],
                 champions: tuple[Champion, Champion] | None, settings: RateSettings,
                 rates: rate_overrides.Level1Rates, as_of: datetime) -> list[rs.NewSuggestion]:
    ids = inputs["promoter_id"].tolist()
    statuses = [_status(d, arms.get(p)) for d, p in zip(decisions, ids, strict=True)]
    proposed = np.array([rate for _, rate in statuses])
    ladder = scored.ladder
    now_arm, new_arm = _nearest(ladder, current), _nearest(ladder, proposed)
    changed = np.flatnonzero(np.abs(proposed - current) > 1e-9)
    predicted: list[dict[str, rs.PredictedChange]] = [{} for _ in ids]
    drivers: dict[int, tuple[rs.Driver, ...]] = {}
    if champions is not None:
        predicted = _predicted(champions[1].model, inputs, now_arm, new_arm)
        drivers = _drivers(champions[1].model, inputs, now_arm, new_arm, changed)
    control_share = settings.control_share if arms else 0.0
    out = []
    for i, promoter in enumerate(ids):
        status, rate = statuses[i]
        arm = arms.get(promoter)
        trail = tuple(rs.GuardrailStep(v.rule, v.outcome.value, str(_rate(v.rate_after)),
                                       v.detail) for v in decisions[i].trail)
        propensity = (control_share if arm is rs.ExperimentArm.CONTROL
                      else (1.0 - control_share) * float(scored.propensity[i]))
        reason = (rs.AssignmentReason.CONTROL if arm is rs.ExperimentArm.CONTROL
                  else rs.AssignmentReason.EXPLORATION if scored.explored[i]
                  else rs.AssignmentReason.POLICY)
        text = _explanation(champions is None, status, Decimal(str(_rate(current[i]))),
                            _rate(rate), _rate(scored.policy_rate[i]), reason, propensity,
                            trail, predicted[i], drivers.get(i, ()), rates.currency, settings)
        category = inputs["category_name"].iat[i]
        if category in rates.own_level_categories:
            text += (f" Note: its main category {category} is settled at that category's own "
                     "rates; a level-1 override reaches its other sales only.")
        out.append(rs.NewSuggestion(
            promoter_id=promoter, current_rate=_rate(current[i]),
            policy_rate=_rate(scored.policy_rate[i]), proposed_rate=_rate(rate),
            cadence=_cadence(inputs.iloc[i], settings), guardrails=trail,
            input_fingerprint=_fingerprint(inputs.iloc[i], float(current[i]), as_of),
            predicted=predicted[i], propensity=max(propensity, 1e-9), reason=reason,
            explanation=text, drivers=drivers.get(i, ()), initial_status=status, arm=arm))
    return out


def _explanation(cold: bool, status: rs.SuggestionStatus, current: Decimal, proposed: Decimal,
                 policy_rate: Decimal, reason: rs.AssignmentReason, propensity: float,
                 trail: tuple[rs.GuardrailStep, ...], predicted: dict[str, rs.PredictedChange],
                 drivers: tuple[rs.Driver, ...], currency: str, settings: RateSettings) -> str:
    parts = [words.change_words(current, proposed) + "."]
    if cold:
        parts.append("Cold start: no rate policy champion is registered, so nothing is "
                     "predicted and no confident change is proposed.")
        if reason is rs.AssignmentReason.EXPLORATION:
            parts.append(f"This promoter was drawn for a one-step randomised exploration "
                         f"(probability {propensity:.1%}) so the next model can learn.")
    elif reason is rs.AssignmentReason.EXPLORATION:
        parts.append(f"Exploration: moved one ladder step at random from the policy's "
                     f"{words.percent(policy_rate)} (probability {propensity:.1%}).")
    if status is rs.SuggestionStatus.CONTROL:
        parts.append("Control group of the rate experiment: the promoter keeps its current "
                     "rate; the proposal is what treatment would have served.")
    parts.append(words.trail_words(trail))
    parts.append(words.prediction_words(predicted, currency, settings.cycle_days))
    parts.append(words.driver_words(drivers))
    return " ".join(p for p in parts if p)


def _summary(champions: tuple[Champion, Champion] | None, suggestions: list[rs.NewSuggestion],
             flag_note: str, conn: Connection) -> str:
    counts: dict[str, int] = {}
    for s in suggestions:
        counts[s.initial_status.value] = counts.get(s.initial_status.value, 0) + 1
    head = (f"policy {champions[0].name} v{champions[0].version}, response "
            f"{champions[1].name} v{champions[1].version}" if champions
            else "cold start: no rate policy champion is registered (run `fenrun policy "
                 "register`); only randomised one-step exploration is proposed")
    explored = any(a.reason == rs.AssignmentReason.EXPLORATION.value
                   for a in read_model.rate_assignments(conn, limit=rs.MAX_SUGGESTIONS_PER_RUN))
    history = ("" if explored else "; the books hold no explored rates yet, so the policy "
               "learned from another history than this mall's")
    tally = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    return f"{head}; {len(suggestions)} promoters: {tally or 'none'}; {flag_note}{history}"


def _log_unchanged(conn: Connection, run: rs.SuggestionRun, ids: list[str],
                   suggestions: list[rs.NewSuggestion], by: str) -> None:
    """Live mode: promoters who keep their rate this period (control, no change, blocked) are
    logged as served that rate from T, with its probability: the log covers every period."""
    if run.mode is not rs.SuggestionMode.LIVE:
        return
    keep = (rs.SuggestionStatus.CONTROL, rs.SuggestionStatus.NO_CHANGE,
            rs.SuggestionStatus.BLOCKED)
    for sid, s in zip(ids, suggestions, strict=True):
        if s.initial_status in keep:
            rs.record_assignment(conn, rs.NewAssignment(
                s.promoter_id, s.current_rate, run.as_of, s.propensity, s.reason,
                run.created_at, by, suggestion_id=sid, arm=s.arm,
                experiment_id=run.experiment_id if s.arm else None))


def _auto(s: rs.NewSuggestion, settings: RateSettings) -> bool:
    return (s.initial_status is rs.SuggestionStatus.PENDING
            and s.proposed_rate != s.current_rate
            and abs(s.proposed_rate - s.current_rate) <= Decimal(repr(settings.approval_above)))


def _auto_approve(engine: Engine, settings: RateSettings, ids: list[str],
                  suggestions: list[rs.NewSuggestion], now: datetime) -> str | None:
    """Approve at once what the guardrails did not send to a person, effective after notice."""
    chosen = [sid for sid, s in zip(ids, suggestions, strict=True) if _auto(s, settings)]
    if not chosen:
        return None
    notice = timedelta(days=settings.notice_days)
    with engine.begin() as conn:
        version, _ = rate_overrides.approve(
            conn, chosen, effective_from=now + notice, decided_by="fenrun rates auto-approve",
            decided_at=now, notice=notice, note=f"change within {settings.approval_above}",
            status=rs.SuggestionStatus.AUTO_APPROVED)
    return version
