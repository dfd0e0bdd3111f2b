"""Backup → restore into a fresh PostgreSQL database → everything compared (rows, sums, media)."""

import io
import json
import sqlite3
import tarfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from core.backups import backup_create
from core.db_inventory import take_inventory
from tests.safety.databases import (
    current_database_url,
    inventory_of,
    manage,
    rows_at,
    rows_of,
    throwaway_database,
)
from tests.safety.dataset import ENCRYPTED_PROOF, build_dataset
from verification.models import PaymentProof
from verification.services import proof_read_bytes
from verification.storage import MAGIC, decrypt_bytes


@pytest.fixture
def media_root(settings: pytest.FixtureRequest, tmp_path: Path) -> Path:
    root = tmp_path / "media"
    settings.STORAGES = {  # type: ignore[attr-defined]
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root)},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        # Proofs as in production: encrypted by the storage layer, in their own directory.
        "proofs": {
            "BACKEND": "verification.storage.EncryptedStorage",
            "OPTIONS": {"location": str(tmp_path / "private-proofs")},
        },
    }
    return root


def _media_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _rewrite_manifest(archive: Path, target: Path, change: dict[str, object]) -> None:
    with tarfile.open(archive) as source, tarfile.open(target, "w") as copy:
        for member in source.getmembers():
            data = source.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "manifest.json":
                manifest = json.loads(data)
                table = manifest["tables"]["payments_submission"]
                table.update(change)
                data = json.dumps(manifest).encode()
                member.size = len(data)
            copy.addfile(member, io.BytesIO(data))


@pytest.mark.django_db(transaction=True)
def test_backup_restores_into_a_fresh_database_identically(
    media_root: Path, tmp_path: Path
) -> None:
    build_dataset()
    source_inventory = inventory_of(current_database_url())
    source_rows = rows_at(current_database_url())

    call_command("backup", output=str(tmp_path / "backups"))

    [archive] = (tmp_path / "backups").glob("gomflow-backup-*.tar")
    with tarfile.open(archive) as opened:
        names = sorted(opened.getnames())
        manifest = json.loads(opened.extractfile("manifest.json").read())  # type: ignore[union-attr]
    [proof] = PaymentProof.objects.all()
    assert names == [
        "database.dump",
        "manifest.json",
        "media/default/payment-methods/qr/gcash-qr.png",
        "media/default/proofs/2026/11/proof-0001.enc",
        f"media/proofs/{proof.storage_name}",
    ]
    assert manifest["tables"] == source_inventory
    assert manifest["tables"]["payments_submission"] == {
        "rows": 4,
        "sums": {
            "amount_due_minor": {"PHP": 125_000 * 1 + 125_000 * 3, "MYR": 4_550 * 2 + 4_550 * 4},
            "paid_minor": {"PHP": 125_000 + 200_000, "MYR": 5_000},
            "refunded_minor": {"PHP": 25_000, "MYR": 0},
        },
    }
    assert manifest["tables"]["payments_submissionline"]["sums"] == {
        "unit_price_minor": {"*": 125_000 * 2 + 4_550 * 2}
    }
    assert manifest["media"]["default"]["proofs/2026/11/proof-0001.enc"]["size"] == len(
        ENCRYPTED_PROOF
    )
    assert "payments.0001_initial" in manifest["migrations"]

    restored_media = tmp_path / "restored-media"
    restored_proofs = tmp_path / "restored-proofs"
    with throwaway_database("restore") as target_url:
        result = manage(
            "restore",
            str(archive),
            database_url=target_url,
            media_root=restored_media,
            proof_root=restored_proofs,
        )

        assert "Restored and verified" in result.stdout
        assert inventory_of(target_url) == source_inventory
        assert rows_at(target_url) == source_rows
        assert _media_bytes(restored_media) == _media_bytes(media_root)
        assert _media_bytes(restored_media)["proofs/2026/11/proof-0001.enc"] == ENCRYPTED_PROOF
        # The uploaded proof came back as stored: still encrypted, and it still decrypts.
        assert _media_bytes(restored_proofs) == _media_bytes(tmp_path / "private-proofs")
        restored_proof = _media_bytes(restored_proofs)[proof.storage_name]
        assert restored_proof.startswith(MAGIC)
        assert decrypt_bytes(restored_proof) == proof_read_bytes(proof)

        # A second restore into the now non-empty database is refused and changes nothing.
        refused = manage(
            "restore",
            str(archive),
            database_url=target_url,
            media_root=tmp_path / "other",
            proof_root=tmp_path / "other-proofs",
            check=False,
        )
        assert refused.returncode == 1
        assert "is not empty" in refused.stderr
        assert "Restore only into an empty database" in refused.stderr
        assert rows_at(target_url) == source_rows
        assert not (tmp_path / "other").exists()
        assert not (tmp_path / "other-proofs").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rows": 5}, "restore check: payments_submission rows is 4, the manifest says 5"),
        (
            {
                "sums": {
                    "amount_due_minor": {"PHP": 500_000, "MYR": 1},
                    "paid_minor": {"PHP": 325_000, "MYR": 5_000},
                    "refunded_minor": {"PHP": 25_000, "MYR": 0},
                }
            },
            "restore check: payments_submission.amount_due_minor MYR is 27300, the manifest says 1",
        ),
    ],
)
def test_restore_that_does_not_match_its_manifest_fails_and_leaves_nothing(
    media_root: Path, tmp_path: Path, change: dict[str, object], message: str
) -> None:
    build_dataset()
    result = backup_create(output_dir=tmp_path / "backups")
    tampered = tmp_path / "tampered.tar"
    _rewrite_manifest(result.path, tampered, change)
    restored_media = tmp_path / "restored-media"

    with throwaway_database("badrestore") as target_url:
        failed = manage(
            "restore",
            str(tampered),
            database_url=target_url,
            media_root=restored_media,
            proof_root=tmp_path / "restored-proofs",
            check=False,
        )

        assert failed.returncode == 1
        assert message in failed.stderr
        assert inventory_of(target_url) == {}
        assert _media_bytes(restored_media) == {}
        assert _media_bytes(tmp_path / "restored-proofs") == {}


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_an_archive_whose_files_were_altered(
    media_root: Path, tmp_path: Path
) -> None:
    build_dataset()
    result = backup_create(output_dir=tmp_path / "backups")
    with tarfile.open(result.path) as source:
        source.extractall(tmp_path / "unpacked", filter="data")
    proof = (
        tmp_path / "unpacked" / "media" / "default" / "proofs" / "2026" / "11" / "proof-0001.enc"
    )
    proof.write_bytes(b"tampered")
    altered = tmp_path / "altered.tar"
    with tarfile.open(altered, "w") as copy:
        for path in sorted((tmp_path / "unpacked").rglob("*")):
            if path.is_file():
                copy.add(path, arcname=path.relative_to(tmp_path / "unpacked").as_posix())

    with pytest.raises(
        CommandError,
        match=r"Media file default/proofs/2026/11/proof-0001.enc in the archive does not match",
    ):
        call_command("restore", str(altered))


def test_sqlite_backup_restores_through_the_backup_api(tmp_path: Path) -> None:
    # The embedded default (no DATABASE_URL) runs on SQLite; its backups use the SQLite backup
    # API. Exercised in child processes: this test's own database stays PostgreSQL.
    source_url = f"sqlite:///{tmp_path / 'source.sqlite3'}"
    target_url = f"sqlite:///{tmp_path / 'target.sqlite3'}"
    manage("migrate", "--noinput", database_url=source_url)
    manage(
        "shell",
        "-c",
        "from config.celery import app; app.conf.task_always_eager = True; "
        "from tests.safety.dataset import build_dataset; build_dataset()",
        database_url=source_url,
        media_root=tmp_path / "media",
        proof_root=tmp_path / "proofs",
    )
    manage(
        "backup",
        f"--output={tmp_path / 'backups'}",
        database_url=source_url,
        media_root=tmp_path / "media",
        proof_root=tmp_path / "proofs",
    )
    [archive] = (tmp_path / "backups").glob("gomflow-backup-*.tar")
    with tarfile.open(archive) as opened:
        manifest = json.loads(opened.extractfile("manifest.json").read())  # type: ignore[union-attr]
        assert "database.sqlite3" in opened.getnames()

    manage(
        "restore",
        str(archive),
        database_url=target_url,
        media_root=tmp_path / "restored",
        proof_root=tmp_path / "restored-proofs",
    )

    with (
        sqlite3.connect(tmp_path / "source.sqlite3") as source,
        sqlite3.connect(tmp_path / "target.sqlite3") as target,
    ):
        assert rows_of(target.cursor(), "sqlite") == rows_of(source.cursor(), "sqlite")
        assert take_inventory(target.cursor(), "sqlite") == manifest["tables"]
    assert manifest["tables"]["payments_submission"]["sums"] == {
        "amount_due_minor": {"PHP": 500_000, "MYR": 27_300},
        "paid_minor": {"PHP": 325_000, "MYR": 5_000},
        "refunded_minor": {"PHP": 25_000, "MYR": 0},
    }
    assert _media_bytes(tmp_path / "restored") == _media_bytes(tmp_path / "media")
    assert len(_media_bytes(tmp_path / "proofs")) == 1
    assert _media_bytes(tmp_path / "restored-proofs") == _media_bytes(tmp_path / "proofs")
