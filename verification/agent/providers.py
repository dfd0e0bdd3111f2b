"""What the agent knows about each provider's receipts: names printed on them and labels.

Reference patterns come from payments.method_templates (one source of truth); this table adds
what only reading needs: the words that identify the provider on a screenshot, the label printed
before its reference, and labels of other numbers that must never be taken for it.
"""

from dataclasses import dataclass

from payments.method_templates import get_template


@dataclass(frozen=True)
class Provider:
    slug: str
    name: str
    country: str  # "PH", "MY" or "" when the provider works in both
    template_codes: tuple[str, ...]  # PH code first when both
    keywords: tuple[str, ...]  # lower-case words that name it on a receipt
    reference_labels: tuple[str, ...]  # lower-case, most specific first
    hex_reference: bool = False  # Maya's ids are hexadecimal (FORMATS.md 1.2)

    def template_code(self, currency: str) -> str:
        if len(self.template_codes) == 1:
            return self.template_codes[0]
        return self.template_codes[1] if currency == "MYR" else self.template_codes[0]

    def reference_pattern(self, currency: str = "") -> str:
        return get_template(self.template_code(currency)).reference_pattern

    def reference_documented(self, currency: str = "") -> bool:
        return get_template(self.template_code(currency)).reference_documented


_REF_NO = ("reference no", "reference number", "ref no", "ref. no", "reference id")

PROVIDERS: tuple[Provider, ...] = (
    Provider(
        "gcash", "GCash", "PH", ("ph-gcash",), ("gcash",), ("ref no", "ref. no", "reference no")
    ),
    Provider(
        "maya",
        "Maya",
        "PH",
        ("ph-maya",),
        ("maya", "paymaya"),
        ("reference id",),
        hex_reference=True,
    ),
    Provider("bpi", "BPI", "PH", ("ph-bpi",), ("bpi",), _REF_NO),
    Provider("bdo", "BDO", "PH", ("ph-bdo",), ("bdo",), ("reference no", "reference number")),
    Provider(
        "unionbank",
        "UnionBank",
        "PH",
        ("ph-unionbank",),
        ("unionbank", "union bank"),
        ("reference number", "reference no"),
    ),
    Provider("metrobank", "Metrobank", "PH", ("ph-metrobank",), ("metrobank",), _REF_NO),
    Provider("landbank", "Landbank", "PH", ("ph-landbank",), ("landbank",), _REF_NO),
    Provider("gotyme", "GoTyme", "PH", ("ph-gotyme",), ("gotyme",), _REF_NO),
    Provider(
        "maybank",
        "Maybank",
        "MY",
        ("my-maybank",),
        ("maybank", "maybank2u", "mae"),
        ("reference id", "reference number", "reference no"),
    ),
    Provider("cimb", "CIMB", "MY", ("my-cimb",), ("cimb",), ("reference no", "reference number")),
    Provider(
        "publicbank",
        "Public Bank",
        "MY",
        ("my-publicbank",),
        ("public bank", "pbe"),
        ("reference no",),
    ),
    Provider(
        "rhb",
        "RHB",
        "MY",
        ("my-rhb",),
        ("rhb online", "rhb now", "rhb bank"),
        ("reference number", "reference no"),
    ),
    Provider(
        "hongleong",
        "Hong Leong Bank",
        "MY",
        ("my-hongleong",),
        ("hong leong", "hlb"),
        ("transaction reference no", "transaction reference"),
    ),
    Provider(
        "tng",
        "Touch 'n Go",
        "MY",
        ("my-tng",),
        ("touch 'n go", "touch n go", "touchngo", "tng"),
        ("duitnow ref no", "duitnow reference"),
    ),
    Provider(
        "duitnow",
        "DuitNow",
        "MY",
        ("my-duitnow-id",),
        ("duitnow",),
        ("duitnow ref no", "duitnow reference", "reference no"),
    ),
    Provider(
        "boost", "Boost", "MY", ("my-boost",), ("boost",), ("transaction id", "transaction no")
    ),
    Provider(
        "grabpay",
        "GrabPay",
        "",
        ("ph-grabpay", "my-grabpay"),
        ("grabpay",),
        ("transaction id", "transaction no"),
    ),
    Provider(
        "shopeepay",
        "ShopeePay",
        "",
        ("ph-shopeepay", "my-shopeepay"),
        ("shopeepay",),
        ("transaction id", "transaction no"),
    ),
)
BY_SLUG = {provider.slug: provider for provider in PROVIDERS}
# Method template code → provider, so a submission's chosen method can hint the provider.
BY_TEMPLATE = {code: provider for provider in PROVIDERS for code in provider.template_codes}
BY_TEMPLATE["my-duitnow-qr"] = BY_SLUG["duitnow"]

# Labels of numbers that look like references but are someone else's: free text typed by the
# payer, secondary ids, invoice numbers (FORMATS.md: "never take Recipient Reference ...").
FOREIGN_REFERENCE_PREFIXES = (
    "recipient",
    "customer",
    "service",
    "instapay",
    "channel",
    "invoice",
    "wallet",
    "bank ref",
    "payment details",
    "other",
)
