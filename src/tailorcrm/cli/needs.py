"""The ``tailorcrm needs`` command group; prediction and analysis modules attach commands here.

Each module adds its commands with a ``register(app)`` function, so the group stays one
Typer app: ``cli/needs_predict.py`` (define, list, train, score, explain) and the analysis
module (report).
"""

from __future__ import annotations

import typer

from tailorcrm.cli import needs_predict, needs_report

app = typer.Typer(name="needs", help="Customer needs: definitions, prediction with reasons, "
                  "analysis and reports.", no_args_is_help=True)

needs_predict.register(app)
needs_report.register(app)
