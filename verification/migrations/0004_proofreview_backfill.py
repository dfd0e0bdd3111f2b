"""Put every proof that awaits a decision today into the new queue table (in batches)."""

from django.db import migrations


def forwards(apps, schema_editor) -> None:  # noqa: ANN001
    Submission = apps.get_model("payments", "Submission")
    PaymentProof = apps.get_model("verification", "PaymentProof")
    ProofReview = apps.get_model("verification", "ProofReview")
    waiting = Submission.objects.filter(status="proof_submitted").select_related(
        "buyer", "payment_method"
    )
    batch = []
    for submission in waiting.iterator(chunk_size=1000):
        proof = (
            PaymentProof.objects.filter(submission=submission).order_by("-created_at", "-id").first()
        )
        if proof is None or ProofReview.objects.filter(submission=submission).exists():
            continue
        batch.append(
            ProofReview(
                proof=proof,
                submission=submission,
                group_order_id=submission.group_order_id,
                queued_at=proof.created_at,
                submission_code=submission.code,
                buyer_name=submission.buyer_name[:150],
                buyer_email=submission.buyer.email[:254],
                method_type=submission.payment_method.method_type
                if submission.payment_method
                else "",
                currency=submission.currency,
                reference=proof.reference,
                confidence=proof.confidence,
                suggestion=proof.suggestion,
                flags=sorted({flag["code"] for flag in proof.flags or []}),
            )
        )
        if len(batch) >= 1000:
            ProofReview.objects.bulk_create(batch)
            batch = []
    ProofReview.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [("verification", "0003_proofreview_search_indexes"), ("payments", "0002_default_fee_rules")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
