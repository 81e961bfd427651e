"""The names of every predictor model, in the order the leaderboard and the CLI list them.

This module imports nothing, so that the CLI can name the models (help text, choices)
without importing torch or scikit-learn. The registries that map a name to its code,
:data:`workscope.predictors.models.MODELS` and :data:`workscope.predictors.baselines.BASELINES`,
are keyed from these tuples.
"""

from __future__ import annotations

#: The neural models (:mod:`workscope.predictors.models`): CloudFormer, its two single-branch
#: ablations, an LSTM and DLinear.
NEURAL_MODELS: tuple[str, ...] = ("cloudformer", "temporal", "system", "lstm", "dlinear")

#: The baselines (:mod:`workscope.predictors.baselines`).
BASELINE_MODELS: tuple[str, ...] = ("persistence", "group_median", "linear", "random_forest",
                                    "gradient_boosting")

#: Every model a task can be evaluated with: the neural models, then the baselines.
ALL_MODELS: tuple[str, ...] = (*NEURAL_MODELS, *BASELINE_MODELS)
