"""The supervisors' figures (issue 12 §5): rates with the inspections behind them. docs/figures.md."""
