"""The named groups of staff and the model permissions each one holds."""

from django.contrib.auth.models import Group, Permission

GOM_GROUP = "GOM"
FINANCE_GROUP = "Finance"

# A GOM works only on what they own (scoped by selectors); these model rights open the admin pages.
_GOM_PERMISSIONS = [
    ("payments", "view_grouporder"),
    ("payments", "add_grouporder"),
    ("payments", "change_grouporder"),
    ("payments", "view_grouporderitem"),
    ("payments", "add_grouporderitem"),
    ("payments", "change_grouporderitem"),
    ("payments", "view_paymentmethod"),
    ("payments", "add_paymentmethod"),
    ("payments", "change_paymentmethod"),
    ("payments", "view_submission"),
    ("payments", "change_submission"),
    # Money core: read payments, decide refunds, grant credit to their own buyers.
    ("payments", "view_payment"),
    ("payments", "view_refund"),
    ("payments", "change_refund"),
    ("wallet", "view_creditgrant"),
    ("wallet", "add_creditgrant"),
    ("wallet", "view_walletentry"),
    # Proof rows are scoped to the GOM's orders by verification.selectors.
    ("verification", "view_paymentproof"),
    # Reconciliation and reports: read-only, scoped to the GOM's own accounts and group orders.
    ("payments", "view_statement"),
    ("payments", "view_statementline"),
    ("payments", "view_reconciliationrun"),
    ("payments", "view_discrepancy"),
    ("payments", "export_finance"),
    # Webhooks: their own endpoints and deliveries (webhooks.admin scopes both to the owner).
    ("webhooks", "view_endpoint"),
    ("webhooks", "add_endpoint"),
    ("webhooks", "change_endpoint"),
    ("webhooks", "view_delivery"),
    # Fraud check hits of their own group orders (scoped by fraud.selectors).
    ("fraud", "view_fraudlog"),
]
# Finance reads everything and changes nothing here.
_FINANCE_PERMISSIONS = [
    ("payments", "view_grouporder"),
    ("payments", "view_grouporderitem"),
    ("payments", "view_paymentmethod"),
    ("payments", "view_submission"),
    ("payments", "view_all_orders"),
    ("audit", "view_auditevent"),
    # Money core: read every payment, refund and ledger; keep the providers' fee rules.
    ("payments", "view_payment"),
    ("payments", "view_refund"),
    ("payments", "view_feerule"),
    ("payments", "add_feerule"),
    ("payments", "change_feerule"),
    ("wallet", "view_creditgrant"),
    ("wallet", "view_walletentry"),
    ("verification", "view_paymentproof"),
    # Reconciliation: import statements, run matching, resolve discrepancies, export.
    ("payments", "reconcile"),
    ("payments", "export_finance"),
    ("payments", "view_statement"),
    ("payments", "add_statement"),
    ("payments", "view_statementline"),
    ("payments", "view_statementmatch"),
    ("payments", "change_statementmatch"),
    ("payments", "view_reconciliationrun"),
    ("payments", "add_reconciliationrun"),
    ("payments", "view_discrepancy"),
    ("payments", "change_discrepancy"),
    ("payments", "view_statementmapping"),
    ("payments", "add_statementmapping"),
    ("payments", "change_statementmapping"),
    ("fraud", "view_fraudlog"),
    # Data protection: find a buyer and carry out an erasure request (accounts.erasure).
    ("accounts", "view_user"),
    ("accounts", "erase_buyer"),
    # The daily metrics roll-up (every GOM's figures together, so not for GOMs).
    ("ops", "view_dailymetric"),
]


def _permissions(pairs: list[tuple[str, str]]) -> list[Permission]:
    found = []
    for app_label, codename in pairs:
        found.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return found


def ensure_role_groups() -> tuple[Group, Group]:
    """Create or refresh the GOM and Finance groups with exactly their permissions."""
    gom, _ = Group.objects.get_or_create(name=GOM_GROUP)
    gom.permissions.set(_permissions(_GOM_PERMISSIONS))
    finance, _ = Group.objects.get_or_create(name=FINANCE_GROUP)
    finance.permissions.set(_permissions(_FINANCE_PERMISSIONS))
    return gom, finance
