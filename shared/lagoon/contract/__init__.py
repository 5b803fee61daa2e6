"""What a Lago response looks like: the bodies of the API, the webhooks and the PDFs, built from domain objects
and data reads (never from services). One builder per object, used everywhere it is rendered."""
