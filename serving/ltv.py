"""LTV forecast scoring with the champion: expected net revenue per customer over the horizon.

The input is the customer feature frame the LTV model was trained on (built where the order
history is read; serving does not import `training`). The model's MLflow signature is the
contract: its input columns are selected from the frame, and when it declares an `as_of`
parameter the frame's single feature cutoff is passed, so a promotion calendar places the
forecast window; a frame with mixed cutoffs is forecast on a stationary level.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

LTV_MODEL = "ltv"
OUTPUT = "predicted_minor"
AS_OF = "as_of"


def _params(model: Any, features: pd.DataFrame) -> dict[str, str] | None:
    schema = model.metadata.get_params_schema()
    declared = {p.name for p in schema.params} if schema is not None else set()
    if AS_OF not in declared or AS_OF not in features or features[AS_OF].nunique() != 1:
        return None
    return {AS_OF: pd.Timestamp(features[AS_OF].iloc[0]).isoformat()}


def forecast(model: Any, features: pd.DataFrame) -> np.ndarray:
    """Predicted net revenue (minor units, float) per row of `features`, from a loaded LTV pyfunc
    (the champion's `model`); `ValueError` naming the columns the frame lacks."""
    schema = model.metadata.get_input_schema()
    columns = schema.input_names() if schema is not None else list(features.columns)
    missing = [c for c in columns if c not in features]
    if missing:
        raise ValueError(f"features: missing column(s) {', '.join(missing)} of the LTV model")
    params = _params(model, features)
    out = (model.predict(features[columns], params=params) if params
           else model.predict(features[columns]))
    if isinstance(out, pd.DataFrame):
        out = out[OUTPUT] if OUTPUT in out else out.iloc[:, 0]
    return pd.to_numeric(pd.Series(np.asarray(out).ravel()), errors="coerce").to_numpy(
        dtype=np.float64)
