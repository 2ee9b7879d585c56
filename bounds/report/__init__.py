"""Reports on bounds: correlation intervals, tightness tables and plots."""
