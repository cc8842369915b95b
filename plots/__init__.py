"""Pareto frontiers, the Plotly dashboard and rich comparison tables."""
