from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest
from django.utils.translation import gettext_lazy as _

from core.admin_scoping import ReadOnlyAdmin
from webhooks import services
from webhooks.destinations import UnsafeDestination, check_destination
from webhooks.models import Attempt, Delivery, Endpoint, EventType


def _endpoints_for(user: Any) -> QuerySet[Endpoint]:
    if user.is_superuser:
        return Endpoint.objects.all()
    return Endpoint.objects.filter(owner=user)


def _found(obj: Model | None) -> Model:
    # Another GOM's endpoint or delivery is a 404, as everywhere in this admin (Django's default
    # is a redirect saying it "doesn't exist").
    if obj is None:
        raise Http404("No such object.")
    return obj


class EndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=_("Events"), choices=EventType.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Endpoint
        fields = ("url", "description", "event_types", "is_active")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            check_destination(url)
        except UnsafeDestination as error:
            raise forms.ValidationError(str(error)) from None
        return url


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ("url", "owner", "is_active", "disabled_reason", "created_at")
    list_select_related = ("owner",)
    list_filter = ("is_active",)
    search_fields = ("url", "description")
    readonly_fields = ("owner", "signing_secrets", "disabled_reason", "created_at")
    actions = ["rotate_secret", "drop_old_secrets"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Endpoint]:
        return _endpoints_for(request.user)

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        return _found(super().get_object(request, object_id, from_field))

    def get_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        fields = ["url", "description", "event_types", "is_active"]
        return fields if obj is None else [*fields, *self.readonly_fields]

    @admin.display(description=_("signing secrets (newest first)"))
    def signing_secrets(self, obj: Endpoint) -> str:
        return "\n".join(obj.secrets)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # deliveries point at it; deactivate instead

    def save_model(self, request: HttpRequest, obj: Endpoint, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = services.webhook_endpoint_create(
            actor=request.user,
            owner=request.user,
            url=obj.url,
            event_types=form.cleaned_data["event_types"],
            description=obj.description,
        )
        obj.pk = created.pk

    @admin.action(description=_("Add a new signing secret (both sign until the old is dropped)"))
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        for endpoint in queryset:
            services.webhook_endpoint_rotate_secret(actor=request.user, endpoint=endpoint)
        self.message_user(request, _("%d endpoint(s) now sign with two secrets.") % len(queryset))

    @admin.action(description=_("Drop old signing secrets"))
    def drop_old_secrets(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        for endpoint in queryset:
            services.webhook_endpoint_drop_old_secrets(actor=request.user, endpoint=endpoint)
        self.message_user(request, _("%d endpoint(s) sign with one secret.") % len(queryset))


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    fields = ("attempted_at", "status_code", "duration_ms", "error")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "event_type",
        "endpoint",
        "status",
        "attempt_count",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    )
    list_select_related = ("endpoint",)
    list_filter = ("status", "event_type")
    search_fields = ("event_id", "endpoint__url")
    inlines = [AttemptInline]
    actions = ["redeliver"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return super().get_queryset(request).filter(endpoint__in=_endpoints_for(request.user))

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        return _found(super().get_object(request, object_id, from_field))

    @admin.action(description=_("Deliver again"), permissions=["view"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        for delivery in queryset:
            services.webhook_redeliver(actor=request.user, delivery=delivery)
        self.message_user(
            request, _("%d delivery(ies) queued again.") % len(queryset), messages.SUCCESS
        )
