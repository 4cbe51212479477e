"""Extraction: windows and prompts (``extraction``), repairs, alignment, grounding in exact spans,
every source in parallel (``parallel``), and batches of extraction requests (``batch``)."""
