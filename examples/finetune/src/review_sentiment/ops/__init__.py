"""Production extras, one interview question each: see docs/DESIGN.md."""
