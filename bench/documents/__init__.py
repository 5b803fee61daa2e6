"""Document rendering benchmark (`python -m bench.documents.run`)."""
