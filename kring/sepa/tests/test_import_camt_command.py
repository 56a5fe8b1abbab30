from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from kring.sepa.models import BankStatement

FILES = Path(__file__).parent / "files"
pytestmark = pytest.mark.django_db


def test_imports_camt_and_coda_and_says_already_imported(capsys):
    files = [str(FILES / "rabobank_camt053_001_02.xml"), str(FILES / "kbc_coda_collections.cod")]
    call_command("import_camt", *files)
    out = capsys.readouterr().out
    assert "rabobank_camt053_001_02.xml: 3 " in out and "kbc_coda_collections.cod: 5 " in out
    call_command("import_camt", files[0])
    assert "2026" in capsys.readouterr().out or BankStatement.objects.count() == 2
    assert BankStatement.objects.count() == 2


def test_broken_file_exits_with_the_message(tmp_path):
    broken = tmp_path / "broken.xml"
    broken.write_bytes((FILES / "ing_camt053_001_02_collection.xml").read_bytes()[:2000])
    with pytest.raises(CommandError) as error:
        call_command("import_camt", str(broken))
    assert "broken.xml" in str(error.value)
    assert BankStatement.objects.count() == 0
