"""The LTV model as an MLflow pyfunc: a customer feature frame in, expected net revenue out.

The wrapper holds the whole `LtvModel` (BG/NBD parameters, category levels, boosters, calendar
level), so a caller of `models:/fenrun-ltv@champion` needs only the feature frame that
`training.ltv.features.customer_features` builds; the BG/NBD columns are derived inside. The
feature cutoff travels as the `as_of` parameter (ISO instant): with a promotion calendar it says
which window is forecast; without it the level is stationary (calendar factor 1).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel

from training.ltv.features import FEATURES
from training.ltv.model import LtvModel

OUTPUT = "predicted_minor"
AS_OF = "as_of"


class LtvPyfunc(PythonModel):
    """pyfunc wrapper; output column `predicted_minor` (net revenue over the horizon)."""

    def __init__(self, model: LtvModel) -> None:
        self.model = model

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)[FEATURES]
        as_of = (params or {}).get(AS_OF)
        if as_of:
            frame = frame.assign(**{AS_OF: pd.Timestamp(as_of)})
        return pd.DataFrame({OUTPUT: self.model.predict(frame)}, index=frame.index)


def as_of_param(features: pd.DataFrame) -> dict[str, str]:
    """`{"as_of": iso}` when the frame holds one feature cutoff, else {} (stationary level)."""
    if AS_OF not in features or features[AS_OF].nunique() != 1:
        return {}
    return {AS_OF: pd.Timestamp(features[AS_OF].iloc[0]).isoformat()}


def predict_with(model: Any, features: pd.DataFrame) -> pd.Series:
    """Predictions of a loaded pyfunc as a float Series (accepts a frame or an array result)."""
    params = as_of_param(features)
    out = (model.predict(features[FEATURES], params=params) if params
           else model.predict(features[FEATURES]))
    if isinstance(out, pd.DataFrame):
        out = out[OUTPUT] if OUTPUT in out else out.iloc[:, 0]
    return pd.Series(pd.to_numeric(pd.Series(out).to_numpy(), errors="coerce"),
                     index=features.index, dtype="float64")
