"""Lagoon's pure billing engine: charge properties, money, aggregation, pricing, periods and invoice math.

No I/O, no AWS, no wall clock: every function takes what it needs and returns values. See docs/engine.md.
"""
