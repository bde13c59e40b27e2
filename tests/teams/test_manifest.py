"""`improvebot manifest teams` builds an app package Teams accepts: checked against Microsoft's published schema
(vendored from the npm package @microsoft/app-manifest, v1.25) and Teams' icon rules."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import jsonschema
from PIL import Image

from handlers.cli import main
from tests.support.teams_world import BOT_APP_ID

SCHEMA = Path(__file__).resolve().parent.parent / "fixtures" / "MicrosoftTeams.v1.25.schema.json"


def build(tmp_path: Path, monkeypatch) -> zipfile.ZipFile:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TEAMS_CLIENT_ID", BOT_APP_ID)
    assert main(["manifest", "teams", "--out", "app.zip"]) == 0
    return zipfile.ZipFile(tmp_path / "app.zip")


def test_the_package_holds_a_valid_manifest_and_both_icons(tmp_path, monkeypatch) -> None:
    archive = build(tmp_path, monkeypatch)
    assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
    manifest = json.loads(archive.read("manifest.json"))
    errors = [e.message for e in jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).iter_errors(manifest)]
    assert errors == []
    assert manifest["id"] == manifest["bots"][0]["botId"] == BOT_APP_ID
    titles = [c["title"] for c in manifest["bots"][0]["commandLists"][0]["commands"]]
    assert titles[0] == "improve"
    [extension] = manifest["composeExtensions"]  # "Report a broken process" on any message
    [action] = extension["commands"]
    assert extension["botId"] == BOT_APP_ID
    assert (action["id"], action["type"], action["context"], action["fetchTask"]) == (
        "reportMessage", "action", ["message"], True)  # fmt: skip
    color = Image.open(io.BytesIO(archive.read("color.png")))
    outline = Image.open(io.BytesIO(archive.read("outline.png")))
    assert color.size == (192, 192) and outline.size == (32, 32)
    assert outline.mode == "RGBA" and outline.getpixel((0, 0))[3] == 0  # transparent background


def test_the_schema_check_would_catch_a_broken_manifest(tmp_path, monkeypatch) -> None:
    manifest = json.loads(build(tmp_path, monkeypatch).read("manifest.json"))
    manifest["id"] = "not-a-guid"
    manifest["name"]["short"] = "x" * 40
    errors = list(jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).iter_errors(manifest))
    assert len(errors) >= 2


def test_without_a_client_id_it_says_what_is_missing(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TEAMS_CLIENT_ID", raising=False)
    assert main(["manifest", "teams"]) == 2
    assert "TEAMS_CLIENT_ID is not set" in capsys.readouterr().err
