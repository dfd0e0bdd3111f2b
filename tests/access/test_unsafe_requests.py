"""POST to every page and endpoint, and run every admin action, as every persona.

Each answer must be the exact status in the tables, and a request must write nothing unless
MAY_WRITE lets that persona act there (``tests/access/fingerprint.py`` reads PostgreSQL's own
per-table write counters). The bodies are empty: Django's admin, the custom screens and the API
mostly check the right to act before they read a form, so an empty POST shows who is turned
away at the door. Where a view reads the body first, test_valid_bodies.py sends a valid one.
"""

from typing import Any

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.access.conftest import PersonaClients
from tests.access.matrix import (
    describe,
    missing_message,
    observe_writes,
    parse,
    rolled_back,
    table_line,
    writers,
)
from tests.access.routes import Route, world_object
from tests.access.world import PERSONAS, World

# POST with an empty body. One status per persona: owner, assistant, other_gom, buyer,
# other_buyer, finance, superuser, anonymous.
EXPECTED_POST: dict[str, str] = {
    "accounts:home": "200 200 200 200 200 200 200 302",
    "accounts:login": "302 302 302 302 302 302 302 200",
    "accounts:logout": "302 302 302 302 302 302 302 302",
    "accounts:signup": "302 302 302 302 302 302 302 200",
    "admin/(?P<url>.*)$": "404 404 404 302 302 404 404 302",
    "admin/accounts/user/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/audit/auditevent/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/auth/group/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/authtoken/tokenproxy/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/axes/accessattempt/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/axes/accessfailurelog/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/axes/accesslog/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/django_celery_beat/clockedschedule/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/django_celery_beat/crontabschedule/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/django_celery_beat/intervalschedule/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/django_celery_beat/periodictask/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/django_celery_beat/solarschedule/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/fraud/fraudlog/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/legacy/importbatch/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/legacy/legacyidmap/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/ops/dailymetric/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/outbox/message/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/payments/discrepancy/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/payments/feerule/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/payments/grouporder/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/payments/payment/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/payments/paymentmethod/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/payments/reconciliationrun/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/payments/refund/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/payments/statement/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/payments/statementline/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/payments/statementmapping/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/payments/submission/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/verification/paymentproof/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/wallet/creditgrant/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/wallet/walletentry/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/webhooks/delivery/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin/webhooks/endpoint/<path:object_id>/": "302 302 302 302 302 302 302 302",
    "admin:accounts_user_add": "403 403 403 302 302 403 200 302",
    "admin:accounts_user_change": "403 403 403 302 302 403 200 302",
    "admin:accounts_user_changelist": "403 403 403 302 302 200 200 302",
    "admin:accounts_user_delete": "403 403 403 302 302 403 200 302",
    "admin:accounts_user_erase": "403 403 403 302 302 200 200 302",
    "admin:accounts_user_history": "403 403 403 302 302 200 200 302",
    "admin:accounts_user_simple_history": "403 403 403 302 302 405 405 302",
    "admin:app_list[accounts]": "404 404 404 302 302 200 200 302",
    "admin:app_list[audit]": "404 404 404 302 302 200 200 302",
    "admin:app_list[auth]": "404 404 404 302 302 404 200 302",
    "admin:app_list[authtoken]": "404 404 404 302 302 404 200 302",
    "admin:app_list[axes]": "404 404 404 302 302 404 200 302",
    "admin:app_list[django_celery_beat]": "404 404 404 302 302 404 200 302",
    "admin:app_list[fraud]": "200 200 200 302 302 200 200 302",
    "admin:app_list[legacy]": "404 404 404 302 302 404 200 302",
    "admin:app_list[ops]": "404 404 404 302 302 200 200 302",
    "admin:app_list[outbox]": "404 404 404 302 302 404 200 302",
    "admin:app_list[payments]": "200 200 200 302 302 200 200 302",
    "admin:app_list[verification]": "200 200 200 302 302 200 200 302",
    "admin:app_list[wallet]": "200 200 200 302 302 200 200 302",
    "admin:app_list[webhooks]": "200 200 200 302 302 404 200 302",
    "admin:audit_auditevent_add": "403 403 403 302 302 403 403 302",
    "admin:audit_auditevent_change": "403 403 403 302 302 403 403 302",
    "admin:audit_auditevent_changelist": "403 403 403 302 302 200 200 302",
    "admin:audit_auditevent_delete": "403 403 403 302 302 403 403 302",
    "admin:audit_auditevent_history": "403 403 403 302 302 200 200 302",
    "admin:auth_group_add": "403 403 403 302 302 403 200 302",
    "admin:auth_group_change": "403 403 403 302 302 403 200 302",
    "admin:auth_group_changelist": "403 403 403 302 302 403 200 302",
    "admin:auth_group_delete": "403 403 403 302 302 403 200 302",
    "admin:auth_group_history": "403 403 403 302 302 403 200 302",
    "admin:auth_user_password_change": "403 403 403 302 302 403 200 302",
    "admin:authtoken_tokenproxy_add": "403 403 403 302 302 403 200 302",
    "admin:authtoken_tokenproxy_change": "403 403 403 302 302 403 200 302",
    "admin:authtoken_tokenproxy_changelist": "403 403 403 302 302 403 200 302",
    "admin:authtoken_tokenproxy_delete": "403 403 403 302 302 403 200 302",
    "admin:authtoken_tokenproxy_history": "403 403 403 302 302 403 200 302",
    "admin:autocomplete": "405 405 405 302 302 405 405 302",
    "admin:axes_accessattempt_add": "403 403 403 302 302 403 403 302",
    "admin:axes_accessattempt_change": "403 403 403 302 302 403 302 302",
    "admin:axes_accessattempt_changelist": "403 403 403 302 302 403 200 302",
    "admin:axes_accessattempt_delete": "403 403 403 302 302 403 200 302",
    "admin:axes_accessattempt_history": "403 403 403 302 302 403 200 302",
    "admin:axes_accessfailurelog_add": "403 403 403 302 302 403 403 302",
    "admin:axes_accessfailurelog_change": "403 403 403 302 302 403 302 302",
    "admin:axes_accessfailurelog_changelist": "403 403 403 302 302 403 200 302",
    "admin:axes_accessfailurelog_delete": "403 403 403 302 302 403 200 302",
    "admin:axes_accessfailurelog_history": "403 403 403 302 302 403 200 302",
    "admin:axes_accesslog_add": "403 403 403 302 302 403 403 302",
    "admin:axes_accesslog_change": "403 403 403 302 302 403 302 302",
    "admin:axes_accesslog_changelist": "403 403 403 302 302 403 200 302",
    "admin:axes_accesslog_delete": "403 403 403 302 302 403 200 302",
    "admin:axes_accesslog_history": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_clockedschedule_add": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_clockedschedule_change": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_clockedschedule_changelist": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_clockedschedule_delete": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_clockedschedule_history": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_crontabschedule_add": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_crontabschedule_change": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_crontabschedule_changelist": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_crontabschedule_delete": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_crontabschedule_history": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_intervalschedule_add": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_intervalschedule_change": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_intervalschedule_changelist": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_intervalschedule_delete": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_intervalschedule_history": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_periodictask_add": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_periodictask_change": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_periodictask_changelist": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_periodictask_delete": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_periodictask_history": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_solarschedule_add": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_solarschedule_change": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_solarschedule_changelist": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_solarschedule_delete": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_solarschedule_history": "403 403 403 302 302 403 200 302",
    "admin:fraud_fraudlog_add": "403 403 403 302 302 403 403 302",
    "admin:fraud_fraudlog_change": "403 403 404 302 302 403 403 302",
    "admin:fraud_fraudlog_changelist": "200 200 200 302 302 200 200 302",
    "admin:fraud_fraudlog_delete": "403 403 404 302 302 403 403 302",
    "admin:fraud_fraudlog_history": "200 200 404 302 302 200 200 302",
    "admin:index": "200 200 200 302 302 200 200 302",
    "admin:jsi18n": "405 405 405 302 302 405 405 302",
    "admin:legacy_importbatch_add": "403 403 403 302 302 403 403 302",
    "admin:legacy_importbatch_change": "403 403 403 302 302 403 403 302",
    "admin:legacy_importbatch_changelist": "403 403 403 302 302 403 200 302",
    "admin:legacy_importbatch_delete": "403 403 403 302 302 403 403 302",
    "admin:legacy_importbatch_history": "403 403 403 302 302 403 200 302",
    "admin:legacy_legacyidmap_add": "403 403 403 302 302 403 403 302",
    "admin:legacy_legacyidmap_change": "403 403 403 302 302 403 403 302",
    "admin:legacy_legacyidmap_changelist": "403 403 403 302 302 403 200 302",
    "admin:legacy_legacyidmap_delete": "403 403 403 302 302 403 403 302",
    "admin:legacy_legacyidmap_history": "403 403 403 302 302 403 200 302",
    "admin:login": "200 200 200 200 200 200 200 200",
    "admin:logout": "302 302 302 302 302 302 302 302",
    "admin:ops_dailymetric_add": "403 403 403 302 302 403 403 302",
    "admin:ops_dailymetric_change": "403 403 403 302 302 403 403 302",
    "admin:ops_dailymetric_changelist": "403 403 403 302 302 200 200 302",
    "admin:ops_dailymetric_delete": "403 403 403 302 302 403 403 302",
    "admin:ops_dailymetric_history": "403 403 403 302 302 200 200 302",
    "admin:outbox_message_add": "403 403 403 302 302 403 403 302",
    "admin:outbox_message_change": "403 403 403 302 302 403 403 302",
    "admin:outbox_message_changelist": "403 403 403 302 302 403 200 302",
    "admin:outbox_message_delete": "403 403 403 302 302 403 403 302",
    "admin:outbox_message_history": "403 403 403 302 302 403 200 302",
    "admin:password_change": "200 200 200 302 302 200 200 302",
    "admin:password_change_done": "405 405 405 302 302 405 405 302",
    "admin:payments_discrepancy_add": "403 403 403 302 302 403 403 302",
    "admin:payments_discrepancy_change": "403 404 404 302 302 403 403 302",
    "admin:payments_discrepancy_changelist": "200 200 200 302 302 200 200 302",
    "admin:payments_discrepancy_delete": "403 404 404 302 302 403 403 302",
    "admin:payments_discrepancy_history": "200 404 404 302 302 200 200 302",
    "admin:payments_discrepancy_resolve": "403 403 403 302 302 200 200 302",
    "admin:payments_feerule_add": "403 403 403 302 302 200 200 302",
    "admin:payments_feerule_change": "403 403 403 302 302 200 200 302",
    "admin:payments_feerule_changelist": "403 403 403 302 302 200 200 302",
    "admin:payments_feerule_delete": "403 403 403 302 302 403 403 302",
    "admin:payments_feerule_history": "403 403 403 302 302 200 200 302",
    "admin:payments_feerule_simple_history": "403 403 403 302 302 405 405 302",
    "admin:payments_finance_export[discrepancies.csv]": "200 200 200 302 302 200 200 302",
    "admin:payments_finance_export[discrepancies.xlsx]": "200 200 200 302 302 200 200 302",
    "admin:payments_finance_export[payments.csv]": "200 200 200 302 302 200 200 302",
    "admin:payments_finance_export[payments.xlsx]": "200 200 200 302 302 200 200 302",
    "admin:payments_finance_export[reconciliation.csv]": "200 200 200 302 302 200 200 302",
    "admin:payments_finance_export[reconciliation.xlsx]": "200 200 200 302 302 200 200 302",
    "admin:payments_finance_export[refunds.csv]": "200 200 200 302 302 200 200 302",
    "admin:payments_finance_export[refunds.xlsx]": "200 200 200 302 302 200 200 302",
    "admin:payments_finance_report": "200 200 200 302 302 200 200 302",
    "admin:payments_grouporder_access": "200 404 404 302 302 404 200 302",
    "admin:payments_grouporder_add": "200 200 200 302 302 403 200 302",
    "admin:payments_grouporder_change": "200 403 404 302 302 403 200 302",
    "admin:payments_grouporder_changelist": "200 200 200 302 302 200 200 302",
    "admin:payments_grouporder_delete": "403 403 404 302 302 403 403 302",
    "admin:payments_grouporder_history": "200 200 404 302 302 200 200 302",
    "admin:payments_grouporder_simple_history": "405 405 404 302 302 405 405 302",
    "admin:payments_payment_add": "403 403 403 302 302 403 403 302",
    "admin:payments_payment_change": "403 403 404 302 302 403 403 302",
    "admin:payments_payment_changelist": "200 200 200 302 302 200 200 302",
    "admin:payments_payment_delete": "403 403 404 302 302 403 403 302",
    "admin:payments_payment_history": "200 200 404 302 302 200 200 302",
    "admin:payments_payment_simple_history": "405 405 404 302 302 405 405 302",
    "admin:payments_paymentmethod_add": "200 200 200 302 302 403 200 302",
    "admin:payments_paymentmethod_change": "200 404 404 302 302 403 200 302",
    "admin:payments_paymentmethod_changelist": "200 200 200 302 302 200 200 302",
    "admin:payments_paymentmethod_delete": "403 404 404 302 302 403 403 302",
    "admin:payments_paymentmethod_history": "200 404 404 302 302 200 200 302",
    "admin:payments_paymentmethod_simple_history": "405 404 404 302 302 405 405 302",
    "admin:payments_reconciliationrun_add": "403 403 403 302 302 403 403 302",
    "admin:payments_reconciliationrun_change": "403 404 404 302 302 403 403 302",
    "admin:payments_reconciliationrun_changelist": "200 200 200 302 302 200 200 302",
    "admin:payments_reconciliationrun_delete": "403 404 404 302 302 403 403 302",
    "admin:payments_reconciliationrun_history": "200 404 404 302 302 200 200 302",
    "admin:payments_reconciliationrun_run": "403 403 403 302 302 200 200 302",
    "admin:payments_refund_add": "403 403 403 302 302 403 403 302",
    "admin:payments_refund_change": "403 403 404 302 302 403 403 302",
    "admin:payments_refund_changelist": "200 200 200 302 302 200 200 302",
    "admin:payments_refund_decide": "200 200 404 302 302 404 200 302",
    "admin:payments_refund_delete": "403 403 404 302 302 403 403 302",
    "admin:payments_refund_history": "200 200 404 302 302 200 200 302",
    "admin:payments_refund_simple_history": "405 405 404 302 302 405 405 302",
    "admin:payments_statement_add": "403 403 403 302 302 403 403 302",
    "admin:payments_statement_change": "403 404 404 302 302 403 403 302",
    "admin:payments_statement_changelist": "200 200 200 302 302 200 200 302",
    "admin:payments_statement_confirm": "403 403 403 302 302 302 302 302",
    "admin:payments_statement_delete": "403 404 404 302 302 403 403 302",
    "admin:payments_statement_history": "200 404 404 302 302 200 200 302",
    "admin:payments_statement_upload": "403 403 403 302 302 200 200 302",
    "admin:payments_statementline_add": "403 403 403 302 302 403 403 302",
    "admin:payments_statementline_change": "403 404 404 302 302 403 403 302",
    "admin:payments_statementline_changelist": "200 200 200 302 302 200 200 302",
    "admin:payments_statementline_delete": "403 404 404 302 302 403 403 302",
    "admin:payments_statementline_history": "200 404 404 302 302 200 200 302",
    "admin:payments_statementmapping_add": "403 403 403 302 302 200 200 302",
    "admin:payments_statementmapping_change": "403 403 403 302 302 200 200 302",
    "admin:payments_statementmapping_changelist": "403 403 403 302 302 200 200 302",
    "admin:payments_statementmapping_delete": "403 403 403 302 302 403 403 302",
    "admin:payments_statementmapping_history": "403 403 403 302 302 200 200 302",
    "admin:payments_submission_add": "403 403 403 302 302 403 403 302",
    "admin:payments_submission_change": "403 403 404 302 302 403 403 302",
    "admin:payments_submission_changelist": "200 200 200 302 302 200 200 302",
    "admin:payments_submission_delete": "403 403 404 302 302 403 403 302",
    "admin:payments_submission_history": "200 200 404 302 302 200 200 302",
    "admin:payments_submission_simple_history": "405 405 404 302 302 405 405 302",
    "admin:verification_paymentproof_add": "403 403 403 302 302 403 403 302",
    "admin:verification_paymentproof_change": "403 403 404 302 302 403 403 302",
    "admin:verification_paymentproof_changelist": "200 200 200 302 302 200 200 302",
    "admin:verification_paymentproof_delete": "403 403 404 302 302 403 403 302",
    "admin:verification_paymentproof_history": "200 200 404 302 302 200 200 302",
    "admin:verification_paymentproof_simple_history": "405 405 404 302 302 405 405 302",
    "admin:verification_proofreview_bulk": "302 302 302 302 302 403 302 302",
    "admin:verification_proofreview_change": "200 200 404 302 302 403 200 302",
    "admin:verification_proofreview_changelist": "200 200 200 302 302 200 200 302",
    "admin:verification_proofreview_next": "302 302 302 302 302 302 302 302",
    "admin:verification_proofreview_stats": "200 200 200 302 302 200 200 302",
    "admin:view_on_site": "404 404 404 302 302 404 404 302",
    "admin:wallet_creditgrant_add": "403 403 403 302 302 403 403 302",
    "admin:wallet_creditgrant_change": "403 404 404 302 302 403 403 302",
    "admin:wallet_creditgrant_changelist": "200 200 200 302 302 200 200 302",
    "admin:wallet_creditgrant_delete": "403 404 404 302 302 403 403 302",
    "admin:wallet_creditgrant_grant": "200 200 200 302 302 404 200 302",
    "admin:wallet_creditgrant_history": "200 404 404 302 302 200 200 302",
    "admin:wallet_walletentry_add": "403 403 403 302 302 403 403 302",
    "admin:wallet_walletentry_change": "403 404 404 302 302 403 403 302",
    "admin:wallet_walletentry_changelist": "200 200 200 302 302 200 200 302",
    "admin:wallet_walletentry_delete": "403 404 404 302 302 403 403 302",
    "admin:wallet_walletentry_history": "200 404 404 302 302 200 200 302",
    "admin:webhooks_delivery_add": "403 403 403 302 302 403 403 302",
    "admin:webhooks_delivery_change": "403 404 404 302 302 404 403 302",
    "admin:webhooks_delivery_changelist": "200 200 200 302 302 403 200 302",
    "admin:webhooks_delivery_delete": "403 404 404 302 302 404 403 302",
    "admin:webhooks_delivery_history": "200 404 404 302 302 404 200 302",
    "admin:webhooks_endpoint_add": "200 200 200 302 302 403 200 302",
    "admin:webhooks_endpoint_change": "200 404 404 302 302 404 200 302",
    "admin:webhooks_endpoint_changelist": "200 200 200 302 302 403 200 302",
    "admin:webhooks_endpoint_delete": "403 404 404 302 302 404 403 302",
    "admin:webhooks_endpoint_history": "200 404 404 302 302 404 200 302",
    "api-apply-credit": "404 404 404 201 404 404 404 403",
    "api-docs": "405 405 405 405 405 405 405 405",
    "api-payment-record": "400 400 400 400 400 400 400 403",
    "api-refund-request": "404 404 404 400 404 404 404 403",
    "api-schedule": "405 405 405 405 405 405 405 403",
    "api-schema": "405 405 405 405 405 405 405 405",
    "api-wallet": "405 405 405 405 405 405 405 403",
    "buyer:submission-receipt": "404 404 404 200 404 404 404 302",
    "buyer:submission-status": "404 404 404 200 404 404 404 302",
    "legacy:claim": "200 200 200 200 200 200 200 200",
    "legacy:claim-done": "405 405 405 405 405 405 405 405",
    "manifest": "200 200 200 200 200 200 200 200",
    "ops:health": "405 405 405 405 405 405 405 405",
    "ops:health-database": "405 405 405 405 405 405 405 405",
    "ops:health-live": "200 200 200 200 200 200 200 200",
    "ops:health-payments": "403 403 403 403 403 405 405 403",
    "ops:health-redis": "405 405 405 405 405 405 405 405",
    "ops:metrics": "403 403 403 403 403 405 405 403",
    "payments:group-order": "200 200 200 200 200 200 200 302",
    "payments:method-qr": "404 404 404 404 404 404 404 404",
    "payments:submission-credit": "404 404 404 302 404 404 404 302",
    "payments:submission-pay": "404 404 404 200 404 404 404 302",
    "payments:submission-refund": "404 404 404 200 404 404 404 302",
    "service-worker": "200 200 200 200 200 200 200 200",
    "verification:api-bulk": "400 400 400 400 400 400 400 403",
    "verification:api-method-templates": "405 405 405 405 405 405 405 403",
    "verification:api-payment-proof": "405 405 405 405 405 405 405 403",
    "verification:api-queue-stream": "405 405 405 405 405 405 405 403",
    "verification:api-stats": "405 405 405 405 405 405 405 403",
    "verification:proof-file": "200 200 404 200 404 200 200 302",
    "verification:proof-thumbnail": "200 200 404 200 404 200 200 302",
    "verification:proof-upload": "404 404 404 400 404 404 404 302",
    "wallet:wallet": "200 200 200 200 200 200 200 302",
}

# Who may write rows with an empty POST, because the page does its job for them: the buyer pays
# from their credit (the amount is optional), exports and proof views are audited, and a
# superuser "saving" a read-only axes page leaves an admin log entry.
_EXPORTERS = frozenset({"owner", "assistant", "other_gom", "finance", "superuser"})
MAY_WRITE: dict[str, frozenset[str]] = {
    "api-apply-credit": frozenset({"buyer"}),
    "verification:proof-file": frozenset({"owner", "assistant", "buyer", "finance", "superuser"}),
    "admin:axes_accessattempt_change": frozenset({"superuser"}),
    "admin:axes_accessfailurelog_change": frozenset({"superuser"}),
    "admin:axes_accesslog_change": frozenset({"superuser"}),
    **{
        f"admin:payments_finance_export[{kind}.{fmt}]": _EXPORTERS
        for kind in ("discrepancies", "payments", "reconciliation", "refunds")
        for fmt in ("csv", "xlsx")
    },
}

# Each admin action on the world's object of its model. "-": this persona may act, so the
# action is not tried here (what it does is the feature's own tests' business).
EXPECTED_ACTIONS: dict[str, str] = {
    "admin:accounts_user_changelist#delete_selected": "403 403 403 302 302 302 200 302",
    "admin:accounts_user_changelist#erase_selected_buyer": "403 403 403 302 302 302 302 302",
    "admin:audit_auditevent_changelist#delete_selected": "403 403 403 302 302 200 200 302",
    "admin:auth_group_changelist#delete_selected": "403 403 403 302 302 403 200 302",
    "admin:authtoken_tokenproxy_changelist#delete_selected": "403 403 403 302 302 403 200 302",
    "admin:axes_accessattempt_changelist#cleanup_expired_attempts": "403 403 403 302 302 403 302 302",
    "admin:axes_accessattempt_changelist#delete_selected": "403 403 403 302 302 403 200 302",
    "admin:axes_accessfailurelog_changelist#delete_selected": "403 403 403 302 302 403 200 302",
    "admin:axes_accesslog_changelist#delete_selected": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_clockedschedule_changelist#delete_selected": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_crontabschedule_changelist#delete_selected": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_intervalschedule_changelist#delete_selected": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_periodictask_changelist#delete_selected": "403 403 403 302 302 403 200 302",
    "admin:django_celery_beat_periodictask_changelist#disable_tasks": "403 403 403 302 302 403 - 302",
    "admin:django_celery_beat_periodictask_changelist#enable_tasks": "403 403 403 302 302 403 - 302",
    "admin:django_celery_beat_periodictask_changelist#run_tasks": "403 403 403 302 302 403 - 302",
    "admin:django_celery_beat_periodictask_changelist#toggle_tasks": "403 403 403 302 302 403 - 302",
    "admin:django_celery_beat_solarschedule_changelist#delete_selected": "403 403 403 302 302 403 200 302",
    "admin:fraud_fraudlog_changelist#delete_selected": "200 200 200 302 302 200 200 302",
    "admin:legacy_importbatch_changelist#delete_selected": "403 403 403 302 302 403 200 302",
    "admin:legacy_legacyidmap_changelist#delete_selected": "403 403 403 302 302 403 200 302",
    "admin:ops_dailymetric_changelist#delete_selected": "403 403 403 302 302 200 200 302",
    "admin:outbox_message_changelist#delete_selected": "403 403 403 302 302 403 200 302",
    "admin:payments_discrepancy_changelist#delete_selected": "200 200 200 302 302 200 200 302",
    "admin:payments_feerule_changelist#delete_selected": "403 403 403 302 302 200 200 302",
    "admin:payments_grouporder_changelist#delete_selected": "200 200 200 302 302 200 200 302",
    "admin:payments_payment_changelist#delete_selected": "200 200 200 302 302 200 200 302",
    "admin:payments_paymentmethod_changelist#delete_selected": "200 200 200 302 302 200 200 302",
    "admin:payments_reconciliationrun_changelist#delete_selected": "200 200 200 302 302 200 200 302",
    "admin:payments_refund_changelist#approve_selected": "- - 302 302 302 200 - 302",
    "admin:payments_refund_changelist#delete_selected": "302 302 302 302 302 200 302 302",
    "admin:payments_statement_changelist#delete_selected": "200 200 200 302 302 200 200 302",
    "admin:payments_statementline_changelist#delete_selected": "200 200 200 302 302 200 200 302",
    "admin:payments_statementmapping_changelist#delete_selected": "403 403 403 302 302 200 200 302",
    "admin:payments_submission_changelist#delete_selected": "200 200 200 302 302 200 200 302",
    "admin:verification_paymentproof_changelist#delete_selected": "200 200 200 302 302 200 200 302",
    "admin:verification_proofreview_changelist#delete_selected": "200 200 200 302 302 200 200 302",
    "admin:wallet_creditgrant_changelist#delete_selected": "200 200 200 302 302 200 200 302",
    "admin:wallet_walletentry_changelist#delete_selected": "200 200 200 302 302 200 200 302",
    "admin:webhooks_delivery_changelist#delete_selected": "302 302 302 302 302 403 302 302",
    "admin:webhooks_delivery_changelist#redeliver": "- 302 302 302 302 403 - 302",
    "admin:webhooks_endpoint_changelist#delete_selected": "302 302 302 302 302 403 302 302",
    "admin:webhooks_endpoint_changelist#drop_old_secrets": "- 302 302 302 302 403 - 302",
    "admin:webhooks_endpoint_changelist#rotate_secret": "- 302 302 302 302 403 - 302",
}


def action_routes() -> dict[str, tuple[str, type, str]]:
    """Every registered admin action: key -> (changelist URL name, model, action name)."""
    found = {}
    for model, model_admin in admin.site._registry.items():
        changelist = f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
        for _func, name, _description in model_admin._get_base_actions():
            found[f"{changelist}#{name}"] = (changelist, model, name)
    return found


def _action(world: World, key: str) -> tuple[str, dict[str, Any]]:
    changelist, model, name = action_routes()[key]
    obj = world_object(world, model)
    selected = [str(obj.pk)] if obj is not None else []
    return reverse(changelist), {"action": name, "_selected_action": selected, "index": "0"}


def _lines_for_missing(
    client_for: PersonaClients, requests: dict[str, tuple[str, Any]]
) -> tuple[list[str], dict[str, Any]]:
    lines, wrote = [], {}
    for key, (path, data) in sorted(requests.items()):
        with rolled_back():
            statuses, written = observe_writes(client_for, "post", path, data)
        lines.append(table_line(key, statuses))
        if written:
            wrote[key] = writers(client_for, "post", path, data)
    return lines, wrote


def test_every_route_has_a_post_line(
    route_map: dict[str, Route], client_for: PersonaClients
) -> None:
    missing = {key: (route_map[key].path, None) for key in set(route_map) - set(EXPECTED_POST)}
    stale = sorted(set(EXPECTED_POST) - set(route_map))
    lines, wrote = _lines_for_missing(client_for, missing)
    extra = wrote and f"These wrote rows; add to MAY_WRITE only who may act: {wrote}"
    problems = [missing_message("EXPECTED_POST", lines, extra)] if lines else []
    if stale:
        problems.append(f"EXPECTED_POST has lines for routes that no longer exist: {stale}")
    assert not problems, "\n\n".join(problems)


def test_every_admin_action_has_a_line(world: World, client_for: PersonaClients) -> None:
    actions = action_routes()
    missing = {key: _action(world, key) for key in set(actions) - set(EXPECTED_ACTIONS)}
    stale = sorted(set(EXPECTED_ACTIONS) - set(actions))
    lines, wrote = _lines_for_missing(client_for, missing)
    extra = wrote and f'These wrote rows; put "-" for each persona who may act: {wrote}'
    problems = [missing_message("EXPECTED_ACTIONS", lines, extra)] if lines else []
    if stale:
        problems.append(f"EXPECTED_ACTIONS has lines for actions that no longer exist: {stale}")
    assert not problems, "\n\n".join(problems)


@pytest.mark.parametrize("key", sorted(EXPECTED_POST))
def test_post_is_answered_as_expected_and_writes_nothing(
    key: str, route_map: dict[str, Route], client_for: PersonaClients
) -> None:
    path = route_map[key].path
    may_write = MAY_WRITE.get(key, frozenset())
    expected = parse(EXPECTED_POST[key])
    observed, written = observe_writes(client_for, "post", path, may_write=may_write)
    assert observed == expected, (
        f"POST {path}: {describe(expected, observed)}\n{table_line(key, observed)}"
    )
    assert not written, f"POST {path} wrote {written}: {writers(client_for, 'post', path)}"


@pytest.mark.parametrize("key", sorted(EXPECTED_ACTIONS))
def test_admin_action_is_refused_to_whoever_may_not_act(
    key: str, world: World, client_for: PersonaClients
) -> None:
    path, data = _action(world, key)
    expected = parse(EXPECTED_ACTIONS[key])
    skip = frozenset(p for p, status in zip(PERSONAS, expected, strict=True) if status is None)
    observed, written = observe_writes(client_for, "post", path, data, skip=skip)
    assert observed == expected, (
        f"action {key}: {describe(expected, observed)}\n{table_line(key, observed)}"
    )
    assert not written, f"action {key} wrote {written}"
