from django import template

from core.money import format_money

register = template.Library()


@register.filter(name="money")
def money_filter(amount_minor: int | None, currency: str) -> str:
    """Render ``{{ submission.amount_due_minor|money:submission.currency }}``."""
    if amount_minor is None:
        return ""
    return format_money(int(amount_minor), currency)
