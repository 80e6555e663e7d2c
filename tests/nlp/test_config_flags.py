"""Each config field's help is written once (field metadata): --help and the docs'
table of flags are made from it."""

import dataclasses

from tabtext.nlp.cli import flags_table
from tabtext.nlp.finetune import build_parser
from tabtext.nlp.training.config import ULMFiTConfig


def test_every_field_has_its_help_once():
    fields = [f for f in dataclasses.fields(ULMFiTConfig) if f.name != "preset"]
    table = flags_table().splitlines()
    assert len(table) == 2 + len(fields)  # header, rule, one row a field
    help_text = " ".join(build_parser().format_help().split())
    for f, row in zip(fields, table[2:]):
        help_ = f.metadata["help"]
        assert help_ and row.startswith(f"| `--{f.name.replace('_', '-')}` |")
        assert help_.replace("|", "\\|") in row
        assert " ".join(help_.split()) in help_text  # argparse rewraps, same words
