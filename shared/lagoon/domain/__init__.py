"""Domain models: what services and the engine compute on (separate from the API contract and persistence)."""
