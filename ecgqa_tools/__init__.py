"""ecgqa-tools: answer questions about 12-lead ECGs with evidence you can check.

Research software, never for clinical use.

Subpackages (data flows one way: records -> encoders -> grounding -> answers):

- ``records``: read any ECG source into one validated ``ECG`` type.
- ``qa``: the ECG-QA benchmark: samples, templates, attributes, the answer engine (no models).
- ``encoders``: trained signal models: disease classifiers, attribute model, age/sex, delineator, codec.
- ``grounding``: attributions turned into evidence, measurements, the 12-lead plot.
- ``llm``: typed tools, the offline answerer, the LLM agent and the MCP server.
- ``eval``: benchmarks and evaluations through the public APIs only.
"""

__version__ = "0.1.0"

DISCLAIMER = "Research software, not for clinical use: do not use these answers to diagnose or treat anyone."

__all__ = ["DISCLAIMER", "__version__"]
