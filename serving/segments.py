"""The segments champion as the growth team reviews it: each segment's name, share and profile.

`assign` tags promoters with the champion's segment (the loaded model from
`serving.champions.ChampionRegistry`). `training.segments` logs `segments.json` with the model:
per stable segment id its readable name,
its share of the training promoters and its centroid in the features' own units (GMV in yuan,
rates as fractions, days). This module reads that document (serving does not import training: the
document's shape is the contract) and joins each segment's LTV/CAC from the newest promoter value
snapshot when one was stored with segments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from serving.model_health import ModelHealthService
from serving.promoter_value import PromoterValueReport

SEGMENTS_MODEL = "segments"
SEGMENTS_ARTIFACT = "segments.json"


@dataclass(frozen=True)
class Segment:
    segment_id: int
    name: str
    share: float  # of the promoters the champion was trained on
    centroid: Mapping[str, float]  # feature -> value at the centre, in the feature's units


@dataclass(frozen=True)
class SegmentCatalogue:
    """The champion's segments, largest first."""

    champion_version: str
    segments: tuple[Segment, ...]

    def table(self, value: PromoterValueReport | None = None) -> pd.DataFrame:
        """One row per segment: id, name, share, centroid features; with `value` (a snapshot
        holding segments) also its promoters, customers, Σ LTV / Σ CAC on the snapshot's basis
        (`value.basis`: contribution for "margin") and Σ GMV LTV / Σ CAC beside it."""
        rows = [{"segment_id": s.segment_id, "segment": s.name, "share": s.share,
                 **s.centroid} for s in self.segments]
        out = pd.DataFrame(rows)
        if value is None or not value.has_segments or out.empty:
            return out
        by_id = value.promoters.dropna(subset=["segment_id"]).groupby("segment_id").agg(
            promoters=("promoter_id", "size"), customers=("customers", "sum"),
            ltv_minor=(value.value_column, "sum"), gmv_ltv_minor=("gmv_ltv_minor", "sum"),
            cac_minor=("cac_minor", "sum"))
        cac = by_id["cac_minor"].where(by_id["cac_minor"] > 0)
        by_id["ltv_cac"] = by_id["ltv_minor"] / cac
        by_id["gmv_ltv_cac"] = by_id["gmv_ltv_minor"] / cac
        by_id.index = by_id.index.astype("int64")
        out = out.join(by_id[["promoters", "customers", "ltv_cac", "gmv_ltv_cac"]],
                       on="segment_id")
        out[["promoters", "customers"]] = out[["promoters", "customers"]].astype("Int64")
        return out


def catalogue_from(version: str, document: Mapping[str, object]) -> SegmentCatalogue:
    """Parse `segments.json` ({"<id>": {"name", "share", "centroid": {feature: value}}})."""
    segments = []
    for key, entry in document.items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"segments.json: segment {key!r} is not an object")
        centroid = entry.get("centroid", {})
        segments.append(Segment(int(key), str(entry.get("name", key)),
                                float(entry.get("share", 0.0)),
                                {str(k): float(v) for k, v in dict(centroid).items()}))
    segments.sort(key=lambda s: (-s.share, s.segment_id))
    return SegmentCatalogue(version, tuple(segments))


def champion_segments(health: ModelHealthService) -> SegmentCatalogue:
    """The segments of `fenrun-segments@champion`; `NoChampion` when there is none."""
    version, document = health.champion_document(SEGMENTS_MODEL, SEGMENTS_ARTIFACT)
    return catalogue_from(version, document)


def assign(model: Any, profiles: pd.DataFrame) -> pd.DataFrame:
    """Each profiled promoter's segment under a loaded segments pyfunc (the champion's `model`):
    promoter_id, segment_id, segment_name. The model's signature names its feature columns."""
    schema = model.metadata.get_input_schema()
    columns = schema.input_names() if schema is not None else list(profiles.columns)
    labels = model.predict(profiles[columns])
    return pd.DataFrame({"promoter_id": profiles["promoter_id"].to_numpy(),
                         "segment_id": labels["segment_id"].to_numpy(),
                         "segment_name": labels["segment_name"].to_numpy()})
