"""A deterministic generator of realistic payment-receipt screenshots, for the agent's tests.

Each provider's screen follows the labels and value shapes collected in FORMATS.md (where a
format is NOT FOUND there, a plausible screen is drawn with the generic label). Every screenshot
is phone-sized (1080x2340), with a status bar, a coloured header, fee and total lines, account
and phone numbers as distractors, and then the damage real uploads carry: small rotations,
downscaling and JPEG artefacts. The same seed always gives the same pictures and truths.
"""

import io
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
WIDTH, HEIGHT = 1080, 2340
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
PROVIDERS = [
    "gcash",
    "maya",
    "bpi",
    "bdo",
    "unionbank",
    "metrobank",
    "landbank",
    "gotyme",
    "maybank",
    "cimb",
    "publicbank",
    "rhb",
    "hongleong",
    "tng",
    "duitnow",
    "boost",
    "grabpay",
    "shopeepay",
]
_BICS = ["MBBEMYKL", "CIBBMYKL", "PBBEMYKL", "RHBBMYKL", "HLBBMYKL", "TNGDMYNB", "GXSPMYKL"]


def _font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(f"{FONT_DIR}/{name}", size)


@dataclass
class Receipt:
    """One generated screenshot and what is printed on it."""

    provider: str
    reference: str  # normalised: no spaces, as the agent should report it
    amount_minor: int
    currency: str
    paid_at: datetime  # naive local time as printed
    recipient: str
    recipient_number: str = ""
    data: bytes = b""
    content_type: str = "image/png"
    rotation: float = 0.0
    scale: float = 1.0
    jpeg_quality: int | None = None
    rows: list[tuple[str, ...]] = field(default_factory=list)


def _money(amount_minor: int) -> str:
    return f"{amount_minor // 100:,}.{amount_minor % 100:02d}"


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def _masked_name(rng: random.Random) -> tuple[str, str]:
    first = rng.choice(["ANDREW", "MARIA", "JOSE", "KRISTINE", "MARK", "ANGELA", "PAOLO", "NUR"])
    last = rng.choice(["SANTOS", "REYES", "CRUZ", "TAN", "LIM", "BAUTISTA", "HASSAN"])
    masked = f"{first[:2]}{'*' * (len(first) - 3)}{first[-1]} {last[:2]}{'*' * (len(last) - 2)}"
    return f"{first} {last}", masked


def _ph_mobile(rng: random.Random) -> str:
    return f"+63 9{_digits(rng, 2)} {_digits(rng, 3)} {_digits(rng, 4)}"


def _my_mobile(rng: random.Random) -> str:
    return f"+60 1{_digits(rng, 1)}-{_digits(rng, 3)} {_digits(rng, 4)}"


def _date_en(moment: datetime, *, zero_pad: bool = False) -> str:
    day = f"{moment.day:02d}" if zero_pad else str(moment.day)
    return (
        f"{MONTHS[moment.month - 1]} {day}, {moment.year} {moment.strftime('%I:%M %p').lstrip('0')}"
    )


def _duitnow_reference(rng: random.Random, moment: datetime, bic: str) -> str:
    kind = rng.choice(["010", "030"])
    channel = "QR" if kind == "030" else rng.choice(["RB", "RM", "CB"])
    return f"{moment:%Y%m%d}{bic}{kind}O{channel}{_digits(rng, 8)}"


def _alnum(rng: random.Random, count: int) -> str:
    # Unknown-format ids: upper-case letters and digits without the 0/O and 1/I look-alikes,
    # which no alphabet rule could resolve for an undocumented format.
    return "".join(rng.choice("23456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(count))


# Row kinds: ("title", text) centred bold; ("big", text) large centred amount;
# ("kv", label, value); ("text", text) plain left; ("sep",) a separator line.
def _layout(provider: str, rng: random.Random) -> tuple[Receipt, dict[str, object]]:
    moment = datetime(
        2026,
        rng.randint(1, 11),
        rng.randint(1, 28),
        rng.randint(0, 23),
        rng.randint(0, 59),
        rng.randint(0, 59),
    )
    whole = rng.choice([rng.randint(50, 999), rng.randint(1000, 15000)])
    cents = rng.choice([0, 0, 0, 50, rng.randint(1, 99)])
    amount = whole * 100 + cents
    full_name, masked = _masked_name(rng)
    rows: list[tuple[str, ...]] = []
    style: dict[str, object] = {}
    currency = "PHP"
    reference = ""
    if provider == "gcash":
        style = {"header": (0, 125, 254), "brand": "GCash"}
        reference = _digits(rng, 13)
        printed = f"{reference[:4]} {reference[4:7]} {reference[7:]}"
        style["recipient_number"] = _ph_mobile(rng)
        rows = [
            ("title", "Express Send"),
            ("title", masked),
            ("text_c", str(style["recipient_number"])),
            ("text_c", "Sent via GCash"),
            ("sep",),
            ("kv", "Amount", _money(amount)),
            ("kv", "Total Amount Sent", f"₱{_money(amount)}"),
            ("sep",),
            ("text", f"Ref No. {printed}   {_date_en(moment, zero_pad=rng.random() < 0.5)}"),
        ]
    elif provider == "maya":
        style = {"header": (0, 166, 81), "brand": "maya"}
        reference = "".join(rng.choice("0123456789ABCDEF") for _ in range(12))
        printed = f"{reference[:4]} {reference[4:8]} {reference[8:]}"
        fee = rng.choice([0, 1500])
        rows = [
            ("title", "Sent money via Maya"),
            ("big", f"-₱{_money(amount)}"),
            ("kv", "Recipient", _ph_mobile(rng)),
            ("kv", "Name", masked),
            ("kv", "Amount", f"₱{_money(amount)}"),
            ("kv", "Transaction fee", f"₱{_money(fee)}"),
            ("kv", "Total", f"₱{_money(amount + fee)}"),
            ("sep",),
            ("kv", "Reference ID", printed),
            (
                "text",
                f"Completed {_date_en(moment).replace(str(moment.year), str(moment.year) + ',').replace('AM', 'am').replace('PM', 'pm')}",
            ),
        ]
        if fee:
            rows.insert(8, ("kv", "InstaPay Ref. No.", _digits(rng, 6)))
    elif provider == "bdo":
        style = {"header": (0, 56, 147), "brand": "BDO Pay"}
        reference = f"BN-{moment:%Y%m%d}-{_digits(rng, 8)}"
        fee = rng.choice([1000, 2500])
        rows = [
            ("title", "Sent!"),
            ("big", f"PHP {_money(amount + fee)}"),
            ("text_c", _date_en(moment, zero_pad=True)),
            ("sep",),
            ("kv", "Send Money Amount", f"PHP {_money(amount)}"),
            ("kv", "Service Fee", f"PHP {_money(fee)}"),
            ("kv", "To", full_name),
            ("kv", "Account", _digits(rng, 12)),
            ("kv", "From", f"SMART CHECKING {_digits(rng, 4)}"),
            ("kv", "Invoice number", _digits(rng, 6)),
            ("kv", "Reference no.", reference),
        ]
    elif provider in ("bpi", "metrobank", "landbank", "gotyme", "unionbank"):
        brand = {
            "bpi": "BPI",
            "metrobank": "Metrobank",
            "landbank": "LANDBANK",
            "gotyme": "GoTyme Bank",
            "unionbank": "UnionBank",
        }[provider]
        colours = {
            "bpi": (179, 18, 23),
            "metrobank": (0, 45, 114),
            "landbank": (0, 122, 61),
            "gotyme": (0, 150, 160),
            "unionbank": (255, 128, 0),
        }
        style = {"header": colours[provider], "brand": brand}
        fee = rng.choice([0, 1500, 2500])
        if provider == "unionbank":
            reference = f"UB{_digits(rng, rng.choice([6, 8, 10]))}"
            label = "Reference Number"
        else:
            reference = _digits(rng, rng.choice([10, 12]))
            label = "Reference No."
        rows = [
            ("title", "Transfer successful"),
            ("big", f"PHP {_money(amount)}"),
            ("kv", "Status", "Successful"),
            ("kv", "Date", _date_en(moment).replace(f"{moment.year} ", f"{moment.year} | ")),
            ("kv", "Sent via", "InstaPay"),
            ("kv", "From account", f"Savings ****{_digits(rng, 4)}"),
            ("kv", "To", masked),
            ("kv", "Account number", f"{_digits(rng, 4)} {_digits(rng, 4)} {_digits(rng, 4)}"),
            ("kv", "Amount", f"PHP {_money(amount)}"),
            ("kv", "Transfer fee", f"PHP {_money(fee)}"),
            ("kv", "Total amount", f"PHP {_money(amount + fee)}"),
            ("kv", label, reference),
        ]
        if provider == "unionbank":
            rows.append(("kv", "Instapay Reference Number", _digits(rng, 6)))
    elif provider == "maybank":
        currency = "MYR"
        style = {"header": (255, 200, 40), "brand": "Maybank2u", "brand_ink": (20, 20, 20)}
        reference = _digits(rng, 10)
        rows = [
            ("title", "Transaction Successful"),
            (
                "text_c",
                f"GIRO/DuitNow Transfer {moment.day:02d} {MONTHS[moment.month - 1]} {moment.year}, {moment:%H:%M:%S}",
            ),
            ("kv", "Reference ID", reference),
            ("kv", "Status", "Successful"),
            ("kv", "Transfer To", full_name),
            (
                "kv",
                "Account Number",
                f"{_digits(rng, 4)} {_digits(rng, 4)} {_digits(rng, 4)} {_digits(rng, 2)}",
            ),
            ("kv", "Recipient Bank", "RHB BANK"),
            ("kv", "Transfer Mode", "DuitNow Transfer"),
            ("kv", "Recipient Reference", f"ORDER {_digits(rng, 4)}"),
            ("kv", "Amount", f"RM {_money(amount)}"),
        ]
    elif provider == "cimb":
        currency = "MYR"
        style = {"header": (200, 16, 46), "brand": "CIMB Clicks"}
        reference = f"{moment:%Y%m%d}{_digits(rng, 10)}"
        fee = 10
        rows = [
            ("kv", "Transaction Status :", "Executed Successfully"),
            ("kv", "Reference No. :", reference),
            ("kv", "Services :", "Interbank GIRO (IBG)"),
            ("kv", "Amount :", f"MYR {_money(amount)}"),
            ("kv", "Transaction Fee :", f"MYR {_money(fee)}"),
            ("kv", "Total Debit Amount :", f"MYR {_money(amount + fee)}"),
            ("kv", "To Account :", _digits(rng, 10)),
            ("kv", "Recipient's Reference :", f"INV {_digits(rng, 4)}"),
            ("kv", "Date/Time :", f"{moment:%d-%m-%Y %H:%M:%S}"),
        ]
    elif provider == "publicbank":
        currency = "MYR"
        style = {"header": (204, 0, 0), "brand": "PBe Public Bank"}
        reference = f"{moment:%y%m%d}{_digits(rng, 10)}"
        printed_at = moment + timedelta(days=rng.randint(1, 20))
        rows = [
            (
                "text",
                f"Printed Date/Time: {printed_at.day} {MONTHS[printed_at.month - 1]} {printed_at.year} {printed_at:%H:%M:%S}",
            ),
            ("kv", "Reference No.", reference),
            ("kv", "Service Reference No.", _digits(rng, 6)),
            ("kv", "Product Type", "DuitNow Transfer"),
            ("kv", "Recipient Account", _digits(rng, 10)),
            ("kv", "Recipient Reference", f"PO {_digits(rng, 4)}"),
            ("kv", "Amount", f"MYR {_money(amount)}"),
            ("kv", "Fee", "MYR 0.00"),
            (
                "kv",
                "Payment Date",
                f"{moment.day:02d}-{MONTHS[moment.month - 1]}-{moment.year} {moment:%H:%M}",
            ),
        ]
    elif provider == "rhb":
        currency = "MYR"
        style = {"header": (0, 91, 170), "brand": "RHB Online"}
        reference = f"{moment:%y%m%d}{_digits(rng, 6)}"
        rows = [
            ("kv", "Status", "Processed"),
            ("kv", "Reference Number", reference),
            ("kv", "Amount", f"RM {_money(amount)}"),
            ("kv", "Fund Transfer Charges", "RM 0.00"),
            ("kv", "Total Amount to Debit", f"RM {_money(amount)}"),
            ("kv", "Transfer Type", "Instant Transfer"),
            ("kv", "Payment Date", f"{moment:%d-%m-%Y %H:%M}"),
            ("kv", "Recipient`s Reference", f"GO {_digits(rng, 5)}"),
            ("kv", "Beneficiary Account", _digits(rng, 14)),
        ]
    elif provider == "hongleong":
        currency = "MYR"
        style = {"header": (0, 40, 85), "brand": "HLB Connect"}
        reference = f"C{_digits(rng, 15)}"
        rows = [
            ("kv", "Transaction Reference No. :", reference),
            ("kv", "Payment Type :", "DuitNow Payment"),
            ("kv", "DuitNow ID :", f"RHBBMYKL - XXXXXXXXXX{_digits(rng, 4)}"),
            ("kv", "Amount (MYR) :", _money(amount)),
            ("kv", "DuitNow Reference No. :", _duitnow_reference(rng, moment, "HLBBMYKL")),
            ("kv", "Channel Reference No. :", f"CMSPCT{_digits(rng, 14)}"),
            ("kv", "Date :", f"{moment:%d/%m/%Y %H:%M:%S}"),
        ]
    elif provider in ("tng", "duitnow"):
        currency = "MYR"
        if provider == "tng":
            style = {"header": (0, 94, 255), "brand": "Touch 'n Go eWallet"}
            reference = _duitnow_reference(rng, moment, "TNGDMYNB")
        else:
            style = {"header": (237, 0, 140), "brand": "DuitNow"}
            reference = _duitnow_reference(rng, moment, rng.choice(_BICS))
        rows = [
            ("big", f"RM {_money(amount)}"),
            ("title", "Transferred"),
            ("kv", "Receiver", masked),
            ("kv", "Transaction Type", "Transfer to"),
            ("kv", "Recipient Bank/E-Wallet", "Maybank"),
            ("kv", "Account Number", f"{_digits(rng, 4)} {_digits(rng, 4)} {_digits(rng, 4)}"),
            ("kv", "Remark", f"order {_digits(rng, 3)}"),
            ("kv", "Date & Time", f"{moment:%d/%m/%Y %H:%M:%S}"),
            ("kv", "DuitNow Ref No.", reference),
            ("kv", "Wallet Balance", f"RM {_money(rng.randint(100, 99999))}"),
        ]
    else:  # boost, grabpay, shopeepay: receipt labels NOT FOUND, drawn with "Transaction ID"
        currency = "MYR" if provider == "boost" or rng.random() < 0.5 else "PHP"
        brand = {"boost": "Boost", "grabpay": "GrabPay", "shopeepay": "ShopeePay"}[provider]
        colours = {"boost": (238, 49, 36), "grabpay": (0, 177, 79), "shopeepay": (238, 77, 45)}
        style = {"header": colours[provider], "brand": brand}
        reference = _digits(rng, 18) if provider == "shopeepay" else _alnum(rng, 16)
        symbol = "RM" if currency == "MYR" else "₱"
        mobile = _my_mobile(rng) if currency == "MYR" else _ph_mobile(rng)
        rows = [
            ("title", "Payment Successful"),
            ("big", f"{symbol}{_money(amount)}"),
            ("kv", "Transfer to", masked),
            ("kv", "Mobile number", mobile),
            ("kv", "Amount", f"{symbol}{_money(amount)}"),
            ("kv", "Fee", f"{symbol}0.00"),
            ("kv", "Transaction ID", reference),
            (
                "kv",
                "Date",
                f"{moment.day:02d} {MONTHS[moment.month - 1]} {moment.year}, {moment:%I:%M %p}",
            ),
            ("text", f"Get {symbol}5.00 cashback on your next payment!"),
        ]
    receipt = Receipt(
        provider=provider,
        reference=reference.replace(" ", ""),
        amount_minor=amount,
        currency=currency,
        paid_at=moment.replace(
            second=moment.second
            if provider in ("maybank", "cimb", "hongleong", "tng", "duitnow")
            else 0
        ),
        recipient=masked,
        recipient_number=str(style.get("recipient_number", "")),
        rows=rows,
    )
    return receipt, style


def _draw(rows: list[tuple[str, ...]], style: dict[str, object], rng: random.Random) -> Image.Image:
    header = style["header"]
    background = rng.choice([(255, 255, 255), (245, 246, 248)])
    image = Image.new("RGB", (WIDTH, HEIGHT), background)
    draw = ImageDraw.Draw(image)
    brand_ink = style.get("brand_ink", (255, 255, 255))
    # Status bar: clock, signal bars and a battery, in the header's colour.
    draw.rectangle((0, 0, WIDTH, 80), fill=header)
    draw.text(
        (48, 18),
        f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d}",
        font=_font(34, bold=True),
        fill=brand_ink,
    )
    for bar in range(4):
        draw.rectangle((820 + bar * 22, 56 - bar * 10, 834 + bar * 22, 62), fill=brand_ink)
    draw.rectangle((930, 28, 1000, 60), outline=brand_ink, width=3)
    draw.rectangle((936, 34, 936 + rng.randint(20, 58), 54), fill=brand_ink)
    # Header band with the brand.
    header_bottom = 80 + rng.randint(180, 260)
    draw.rectangle((0, 80, WIDTH, header_bottom), fill=header)
    draw.text(
        (60, 80 + (header_bottom - 80) // 2 - 36),
        str(style["brand"]),
        font=_font(64, bold=True),
        fill=brand_ink,
    )
    y = header_bottom + 50
    label_font, value_font = _font(36), _font(38, bold=True)
    for row in rows:
        kind = row[0]
        if kind == "title":
            font = _font(46, bold=True)
            width = draw.textlength(row[1], font=font)
            draw.text(((WIDTH - width) / 2, y), row[1], font=font, fill=(25, 25, 25))
            y += 84
        elif kind == "text_c":
            width = draw.textlength(row[1], font=label_font)
            draw.text(((WIDTH - width) / 2, y), row[1], font=label_font, fill=(90, 90, 90))
            y += 70
        elif kind == "big":
            font = _font(84, bold=True)
            width = draw.textlength(row[1], font=font)
            draw.text(((WIDTH - width) / 2, y), row[1], font=font, fill=(15, 15, 15))
            y += 140
        elif kind == "kv":
            draw.text((60, y), row[1], font=label_font, fill=(105, 105, 110))
            width = draw.textlength(row[2], font=value_font)
            if 60 + draw.textlength(row[1], font=label_font) + 50 + width > WIDTH - 60:
                y += 58  # too long to share the line: apps wrap the value under its label
            draw.text((WIDTH - 60 - width, y), row[2], font=value_font, fill=(20, 20, 20))
            y += 86
        elif kind == "text":
            draw.text((60, y), row[1], font=label_font, fill=(60, 60, 60))
            y += 76
        elif kind == "sep":
            draw.line((60, y + 10, WIDTH - 60, y + 10), fill=(215, 215, 220), width=2)
            y += 40
    # A "Done" button and a bit of footer, as apps draw them.
    button_top = max(y + 80, HEIGHT - 330)
    draw.rounded_rectangle((60, button_top, WIDTH - 60, button_top + 120), radius=60, fill=header)
    done = _font(44, bold=True)
    draw.text(
        ((WIDTH - draw.textlength("Done", font=done)) / 2, button_top + 32),
        "Done",
        font=done,
        fill=brand_ink,
    )
    return image


def generate(provider: str, rng: random.Random, *, damage: bool = True) -> Receipt:
    """Draw one receipt of ``provider`` and damage it the way uploads are damaged."""
    receipt, style = _layout(provider, rng)
    image = _draw(receipt.rows, style, rng)
    if damage:
        if rng.random() < 0.6:
            receipt.rotation = round(rng.uniform(-3.0, 3.0), 2)
            image = image.rotate(
                receipt.rotation, resample=Image.Resampling.BICUBIC, fillcolor=(250, 250, 250)
            )
        receipt.scale = rng.choice([1.0, 1.0, 0.75, 0.6])
        if receipt.scale != 1.0:
            image = image.resize(
                (round(WIDTH * receipt.scale), round(HEIGHT * receipt.scale)),
                Image.Resampling.LANCZOS,
            )
        if rng.random() < 0.7:
            receipt.jpeg_quality = rng.randint(55, 85)
    buffer = io.BytesIO()
    if receipt.jpeg_quality:
        image.save(buffer, "JPEG", quality=receipt.jpeg_quality)
        receipt.content_type = "image/jpeg"
    else:
        image.save(buffer, "PNG")
    receipt.data = buffer.getvalue()
    return receipt


def corpus(count: int, *, seed: int = 20261123) -> list[Receipt]:
    """``count`` receipts cycling through every provider, reproducible from ``seed``."""
    rng = random.Random(seed)
    return [generate(PROVIDERS[index % len(PROVIDERS)], rng) for index in range(count)]
