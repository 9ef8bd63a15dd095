"""autochart: charts that keep themselves up to date.

Modules, in the order a run uses them: ``config`` (validated parameters), ``sources`` (prices from a
provider, tidy), ``frames`` (tidy -> wide closes), ``charts`` (matplotlib figures), ``runner``
(papermill run folder), ``publish`` (local folder or S3), ``cli`` (the ``run_notebook.py`` entry).
"""

__version__ = "0.1.0"
