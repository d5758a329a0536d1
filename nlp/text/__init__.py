"""Text stage: sentence segments, spaCy pipelines and anonymisation."""
