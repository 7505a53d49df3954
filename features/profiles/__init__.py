"""Point-in-time promoter profiles: raw frames from the books, pure transforms, snapshots."""

from features.profiles.domain import FEATURE_COLUMNS, RawFrames, restrict_to
from features.profiles.service import build_profiles, profile_features

__all__ = ["FEATURE_COLUMNS", "RawFrames", "build_profiles", "profile_features", "restrict_to"]
