"""Plots and reports."""
from framesampler.report.sheet import contact_sheet

__all__ = ["contact_sheet"]
