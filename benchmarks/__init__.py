"""Load and scale benchmarks (issue 8); run ``benchmarks/run``, not part of ``make test``."""
