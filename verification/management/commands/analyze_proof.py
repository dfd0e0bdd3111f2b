"""Run the upload checks and the smart agent on files, printing what it reads.

    python manage.py analyze_proof PATH [PATH ...] --json

prints one JSON object per file, one per line, with the keys file, provider, reference,
amount_minor, currency, paid_at, confidence, suggestion, flags, status. Nothing is stored; the
duplicate check looks at the proofs already in the database.
"""

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from verification import agent
from verification.agent.score import assess
from verification.exceptions import ProofRejected
from verification.intake import prepare_upload
from verification.models import PaymentProof


class Command(BaseCommand):
    help = "Read payment proof files with the smart agent and print the result."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--json", action="store_true", help="One JSON object per line.")

    def handle(self, *args: Any, **options: Any) -> None:
        for path in options["paths"]:
            result = self.analyze(Path(path))
            if options["json"]:
                self.stdout.write(json.dumps(result, ensure_ascii=False))
            else:
                self.stdout.write(
                    f"{result['file']}: {result['status']} {result['provider'] or '?'} "
                    f"ref={result['reference'] or '?'} amount={result['amount_minor']} "
                    f"{result['currency']} confidence={result['confidence']} "
                    f"suggestion={result['suggestion']} flags={','.join(result['flags'])}"
                )

    def analyze(self, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {
            "file": str(path),
            "provider": "",
            "reference": "",
            "amount_minor": None,
            "currency": "",
            "paid_at": None,
            "confidence": 0.0,
            "suggestion": "review",
            "flags": [],
            "status": "failed",
        }
        try:
            data = path.read_bytes()[: settings.PROOF_MAX_BYTES + 1]
            prepared = prepare_upload(data, original_name=path.name)
            reading = agent.read_proof(
                prepared.data,
                prepared.content_type,
                time_limit_seconds=settings.PROOF_AGENT_TIME_LIMIT_SECONDS,
            )
        except OSError as error:
            return result | {"status": "failed", "error": str(error)}
        except ProofRejected as rejection:
            return result | {
                "status": "rejected",
                "error": rejection.message,
                "code": rejection.code,
            }
        except agent.OcrUnavailable as error:
            return result | {"status": "unavailable", "error": str(error)}
        except agent.OcrFailed as error:
            return result | {"status": "failed", "error": str(error)}
        duplicates: list[dict[str, object]] = []
        if PaymentProof.objects.filter(sha256=prepared.sha256).exists():
            duplicates.append({"code": "duplicate_file"})
        if (
            reading.reference
            and PaymentProof.objects.filter(
                provider=reading.provider, reference=reading.reference
            ).exists()
        ):
            duplicates.append({"code": "duplicate_reference"})
        assessment = assess(
            reading, None, duplicates=duplicates, threshold=settings.PROOF_AGENT_APPROVE_THRESHOLD
        )
        return result | {
            "provider": reading.provider,
            "reference": reading.reference,
            "amount_minor": reading.amount_minor,
            "currency": reading.currency,
            "paid_at": reading.paid_at.isoformat() if reading.paid_at else None,
            "confidence": assessment.confidence,
            "suggestion": assessment.suggestion,
            "flags": [flag["code"] for flag in assessment.flags],
            "status": "done",
        }
