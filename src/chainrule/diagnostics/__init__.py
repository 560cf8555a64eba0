"""Diagnostics: how backpropagation is going (gradient health), the graph it
runs through (DOT drawings), and checks worth running before a long training run.

>>> from chainrule.diagnostics import GradientHealth, draw_graph, preflight
"""
from .callback import GradientHealthCallback
from .checks import GradientCheckReport, PreflightReport, check_model_gradients, preflight
from .graph import draw_graph
from .health import KINDS, Finding, GradientHealth, HealthThresholds, plot_health

__all__ = ["KINDS", "Finding", "GradientCheckReport", "GradientHealth", "GradientHealthCallback", "HealthThresholds",
           "PreflightReport", "check_model_gradients", "draw_graph", "plot_health", "preflight"]
