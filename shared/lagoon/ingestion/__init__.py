"""Event ingestion behind the stream: resolve each event's subscription, plan and charges, fold it into the
running aggregates exactly once, and keep what `GET /events` and the `events.errors` report need."""
