"""Classify stage: estimators on embeddings that code answers into a codebook's themes."""
from .backends import CLASSIFIERS, DEFAULT_CLASSIFIER, ThemeModel
from .model import (MAX_THEMES, MIN_CALIBRATION, MIN_Z, PRIOR_MID, PRIOR_SLOPE, Encoded, Scored,
                    ThemeClassifier, encode, relative_rule, subset, theme_prototypes)

__all__ = ["CLASSIFIERS", "DEFAULT_CLASSIFIER", "MAX_THEMES", "MIN_CALIBRATION", "MIN_Z",
           "PRIOR_MID", "PRIOR_SLOPE", "Encoded", "Scored", "ThemeClassifier", "ThemeModel",
           "encode", "relative_rule", "subset", "theme_prototypes"]
