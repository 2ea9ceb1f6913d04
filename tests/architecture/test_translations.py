"""The pt-BR translation of the project's own strings is complete: every message of apps/ and
cinema/ has a translation that is not fuzzy, and every model, field and app names itself in a
translatable way (else Django makes an English name up from the attribute's)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.utils.functional import Promise

ROOT = Path(__file__).resolve().parents[2]
LANGUAGE = "pt_BR"


def po_entries(text: str) -> list[dict]:
    """The live entries of a .po file: msgid, msgstr(s) and flags (obsolete `#~` ones left out)."""
    entries = []
    for block in text.split("\n\n"):
        entry: dict = {"flags": set(), "msgid": "", "msgstr": []}
        key = None
        for line in block.strip().splitlines():
            if line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                part = line[1:-1]
                if key == "msgid":
                    entry["msgid"] += part
                elif key == "msgstr":
                    entry["msgstr"][-1] += part
            else:
                keyword, _, value = line.partition(" ")
                key = "msgstr" if keyword.startswith("msgstr") else keyword
                if key == "msgid":
                    entry["msgid"] = value[1:-1]
                elif key == "msgstr":
                    entry["msgstr"].append(value[1:-1])
        if entry["msgid"]:
            entries.append(entry)
    return entries


@pytest.fixture(scope="module")
def extracted_catalog(tmp_path_factory) -> str:
    """The committed catalog after `makemessages` over a copy of the code: what it lacks shows
    up as empty or fuzzy entries, and nothing in the working tree is touched."""
    if shutil.which("xgettext") is None:
        pytest.fail("GNU gettext (xgettext) is needed to check the translations: apt-get gettext")
    copy = tmp_path_factory.mktemp("messages")
    for folder in ("apps", "cinema", "locale"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "manage.py", copy / "manage.py")
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", LANGUAGE, "--no-obsolete"],
        cwd=copy,
        check=True,
        capture_output=True,
        timeout=300,
    )
    catalog = copy / "locale" / LANGUAGE / "LC_MESSAGES" / "django.po"
    subprocess.run(["msgfmt", "--check", "-o", "/dev/null", str(catalog)], check=True)
    return catalog.read_text()


def test_every_message_of_the_project_is_translated(extracted_catalog):
    entries = po_entries(extracted_catalog)
    missing = [e["msgid"] for e in entries if not all(e["msgstr"]) or "fuzzy" in e["flags"]]

    assert len(entries) > 200
    assert missing == [], f"untranslated or fuzzy in {LANGUAGE}: {missing}"


def project_models() -> list:
    return [model for model in apps.get_models() if model.__module__.startswith("apps.")]


def test_every_model_and_field_has_a_translatable_name():
    unnamed = []
    for model in project_models():
        opts = model._meta
        for attribute in ("verbose_name", "verbose_name_plural"):
            if not isinstance(opts.original_attrs.get(attribute), Promise):
                unnamed.append(f"{opts.label}.Meta.{attribute}")
        unnamed += [
            f"{opts.label}.{field.name}"
            for field in opts.get_fields()
            if field.concrete
            and not field.auto_created
            and not isinstance(field.verbose_name, Promise)
        ]

    assert unnamed == []


def test_every_app_has_a_translatable_name():
    unnamed = [
        config.label
        for config in apps.get_app_configs()
        if config.name.startswith("apps.") and not isinstance(config.verbose_name, Promise)
    ]

    assert unnamed == []
