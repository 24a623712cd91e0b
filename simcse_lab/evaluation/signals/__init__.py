"""Signals for the label-free verdict on training, one registered function each
(``@SIGNALS.register``, `simcse_lab.core.registry.SIGNALS`).

A signal reads one clustering of the held-out texts (a `simcse_lab.evaluation.views.Judged`) and
returns an evaluator: ``f(rows)``, the signal on the texts ``rows`` (every text, or a bootstrap
resample of them). The verdict (`simcse_lab.evaluation.verdict`) calls the trained model's and the
start model's evaluators on the same resamples, so their difference is paired. Every signal is
higher-is-better. Each computes what is expensive once (silhouettes, a classifier's predictions)
and only re-reads it per resample.
"""
