"""The closed set of errors the serving package raises on purpose.

Each carries a stable `code`; the API maps the classes to HTTP statuses in one table and the
dashboard shows the message. Messages name the model so a person knows what to fix.
"""

from __future__ import annotations


class ServingError(Exception):
    """Base of every error serving raises on purpose."""

    code = "serving_error"


class UnknownModel(ServingError):
    """No registered model of that name (names are `fenrun-<name>`; the prefix is optional)."""

    code = "unknown_model"

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"model {name!r} is not registered: train it first (`fenrun train`)")


class NoDriftCheck(ServingError):
    """The model is registered but no drift check has been logged for it yet."""

    code = "no_drift_check"

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"{name} has no drift check yet: run `fenrun drift --as-of TS`")


class TrackingUnavailable(ServingError):
    """The MLflow tracking/registry store could not be read."""

    code = "tracking_unavailable"

    def __init__(self, uri: str, reason: str) -> None:
        self.uri, self.reason = uri, reason
        super().__init__(f"cannot read the MLflow store at {uri}: {reason}")


class NoSnapshot(ServingError):
    """No stored report snapshot (of that as-of, or at all)."""

    code = "no_snapshot"


class UnknownPromoter(ServingError):
    """The promoter has no row in the snapshot and is not in the promoter population either (an
    unknown id, or one who joined after the snapshot)."""

    code = "unknown_promoter"

    def __init__(self, promoter_id: str, as_of: str,
                 where: str = "promoter value snapshot") -> None:
        self.promoter_id = promoter_id
        super().__init__(f"promoter {promoter_id!r} is not in the {where} as of {as_of}")


class NoAcquiredCustomers(ServingError):
    """The promoter exists (it is in the promoter population of the snapshot's time) but had
    acquired no customer by then, so it has no LTV/CAC line."""

    code = "no_acquired_customers"

    def __init__(self, promoter_id: str, as_of: str) -> None:
        self.promoter_id = promoter_id
        super().__init__(f"promoter {promoter_id!r} has no acquired customers as of {as_of}: "
                         "LTV/CAC is defined only for promoters who brought a customer")


class NoChampion(ServingError):
    """The model is registered (or not) but no version holds the `champion` alias."""

    code = "no_champion"

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"{name} has no champion: run `fenrun train "
                         f"{name.removeprefix('fenrun-')}` first (a version becomes champion "
                         "when it wins the gate)")
