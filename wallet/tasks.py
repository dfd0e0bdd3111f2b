from celery import shared_task

from wallet.services import wallet_expire_credits


@shared_task(name="wallet.expire_credits")
def expire_credits() -> int:
    """Expire every grant past its date (scheduled daily in config/celery.py)."""
    return wallet_expire_credits(actor=None)
