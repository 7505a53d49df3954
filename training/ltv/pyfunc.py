"""The LTV model as an MLflow pyfunc: a customer feature frame in, expected net revenue out.

The wrapper holds the whole `LtvModel` (BG/NBD parameters, category levels, boosters), so a caller
of `models:/fenrun-ltv@champion` needs only the feature frame that
`training.ltv.features.customer_features` builds; the BG/NBD columns are derived inside.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel

from training.ltv.features import FEATURES
from training.ltv.model import LtvModel

OUTPUT = "predicted_minor"


class LtvPyfunc(PythonModel):
    """pyfunc wrapper; output column `predicted_minor` (net revenue over the horizon)."""

    def __init__(self, model: LtvModel) -> None:
        self.model = model

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)[FEATURES]
        return pd.DataFrame({OUTPUT: self.model.predict(frame)}, index=frame.index)


def predict_with(model: Any, features: pd.DataFrame) -> pd.Series:
    """Predictions of a loaded pyfunc as a float Series (accepts a frame or an array result)."""
    out = model.predict(features[FEATURES])
    if isinstance(out, pd.DataFrame):
        out = out[OUTPUT] if OUTPUT in out else out.iloc[:, 0]
    return pd.Series(pd.to_numeric(pd.Series(out).to_numpy(), errors="coerce"),
                     index=features.index, dtype="float64")
