"""briefing: sourced policy briefs from news articles.

Every factual sentence of a brief cites the exact words of a source file. The pipeline, one module
a stage: ``sources`` → ``extract`` → ``ground`` → ``compose`` → ``render`` → ``check``; ``cli``
wires them together (see ``pipeline.build``).
"""

__version__ = "0.1.0"
