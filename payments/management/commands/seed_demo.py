from typing import Any

from django.core.management.base import BaseCommand

from payments.demo import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Create the demo users, group orders, methods and submissions (safe to run again)."

    def handle(self, *args: Any, **options: Any) -> None:
        logins = seed_demo()
        self.stdout.write(self.style.SUCCESS("Demo data is ready. Demo logins:"))
        for role, email, where in logins.rows:
            self.stdout.write(f"  {role:<42} {email:<32} {where}")
        self.stdout.write(f"  Password for every demo account: {DEMO_PASSWORD}")
