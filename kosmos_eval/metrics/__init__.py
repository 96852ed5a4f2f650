"""Metrics and their confidence intervals. Every metric is computed from per-sample records, so a run can be
re-scored without the model."""

from kosmos_eval.metrics.base import MetricValue, bootstrap_ci, group_means, mean_metric, mean_metrics

__all__ = ["MetricValue", "bootstrap_ci", "group_means", "mean_metric", "mean_metrics"]
