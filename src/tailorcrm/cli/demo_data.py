"""``tailorcrm demo-data``: write the seeded demo CRM (CSV files and truth.json) to a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tailorcrm.cli.common import console, handle_errors
from tailorcrm.demo.config import DemoConfig
from tailorcrm.demo.generator import generate
from tailorcrm.demo.writer import MAPPINGS, write


@handle_errors
def demo_data_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the files to.")],
    seed: Annotated[int, typer.Option(help="Seed of the generator.")] = 42,
    customers: Annotated[int, typer.Option(help="Number of customers.")] = 2000,
    items: Annotated[int, typer.Option(help="Number of items.")] = 300,
) -> None:
    """Generate the demo CRM and write customers.csv, items.csv, events.csv and truth.json."""
    config = DemoConfig(seed=seed, n_customers=customers, n_items=items)
    with console.status("generating demo data"):
        data = generate(config)
        paths = write(data, out)
    table = Table(title=f"demo data (seed {seed})")
    table.add_column("file")
    table.add_column("rows", justify="right")
    table.add_column("import with")
    for name in ("customers", "items", "events"):
        table.add_row(str(paths[name]), f"{len(getattr(data, name)):,}",
                      f"tailorcrm import {name} {paths[name]} --mapping {MAPPINGS[name]}")
    table.add_row(str(paths["truth"]), "", "ground truth for quality tests")
    console.print(table)
