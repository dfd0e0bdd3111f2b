"""People: GOMs, their assistants, finance staff and buyers, all signing in by e-mail."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import connections, models
from django.db.models.functions import Lower
from django.db.models.query import MAX_GET_RESULTS
from django.utils.translation import gettext_lazy as _

from core import model_rows
from core.history import History
from core.prepared import PreparedStatement

# Per database alias: the columns (attribute names) and the statement of get(pk=…).
_GET_BY_PK: dict[str, tuple[list[str], PreparedStatement | None]] = {}
# Users whose rows a statement of the current request has already read (user_row_already_read).
_ALREADY_READ: ContextVar[dict[int, "User"] | None] = ContextVar("users_already_read", default=None)


@contextmanager
def user_row_already_read(user: "User | None") -> Iterator[None]:
    """Within the block, the next ``User.objects.get(pk=user.pk)`` returns ``user`` unread.

    For a page read on every reload that fetches the signed-in user's row together with its own
    data in one statement: Django's session authentication, which loads the user with get(pk=…)
    and then checks is_active and the session hash, checks that row instead of reading it again.
    Only a row read in the current request belongs here; it is handed out once.
    """
    token = _ALREADY_READ.set({user.pk: user} if user is not None else None)
    try:
        yield
    finally:
        _ALREADY_READ.reset(token)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: Any) -> "User":
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> "User":
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> "User":
        return self.get(email__iexact=username)

    def get(self, *args: Any, **kwargs: Any) -> "User":
        # Every signed-in request loads its user with get(pk=…) (Django's ModelBackend.get_user).
        # Building and compiling that query cost the ORM more CPU than PostgreSQL spends on it,
        # so the ORM compiles it once per database and PostgreSQL plans it once per connection:
        # the same statement, the same row, the same errors. Any other get() is the ORM's, and
        # so is every get() on a migration's historical model (its fields may differ).
        if self.model is not User or args or len(kwargs) != 1 or type(kwargs.get("pk")) is not int:
            return super().get(*args, **kwargs)
        already_read = _ALREADY_READ.get()
        if already_read and (user := already_read.pop(kwargs["pk"], None)) is not None:
            return user
        using = self.db
        if using not in _GET_BY_PK:
            _GET_BY_PK[using] = self._compile_get_by_pk(using)
        attnames, statement = _GET_BY_PK[using]
        if statement is None:
            return super().get(*args, **kwargs)
        with connections[using].cursor() as cursor:
            statement.execute(cursor, [kwargs["pk"]])
            row = cursor.fetchone()
        if row is None:
            raise self.model.DoesNotExist(
                f"{self.model._meta.object_name} matching query does not exist."
            )
        return self.model.from_db(using, attnames, row)

    def _compile_get_by_pk(self, using: str) -> tuple[list[str], PreparedStatement | None]:
        # What QuerySet.get(pk=…) sends: no ordering, at most MAX_GET_RESULTS rows.
        queryset = super().get_queryset().filter(pk=0).order_by()
        queryset.query.set_limits(high=MAX_GET_RESULTS)
        compiler = queryset.query.get_compiler(using)
        sql, params = compiler.as_sql()
        columns = [column for column, _sql, _alias in compiler.select]
        # A column whose value Python converts (from_db_value) needs the ORM's row handling.
        if params != (0,) or compiler.get_converters(columns):
            return [], None
        attnames = [column.target.attname for column in columns]
        pk_type = self.model._meta.pk.rel_db_type(connections[using])
        return attnames, PreparedStatement("accounts_user_get_by_pk", sql, [pk_type])

    def row_columns(self, table_alias: str) -> str:
        """The SELECT list of a whole user row from ``table_alias``, in from_row's order."""
        return model_rows.row_columns(self.model, table_alias)

    def from_row(self, row: Sequence[object], using: str = "default") -> "User":
        """The user whose row_columns() are ``row`` (as read from the database ``using``)."""
        return model_rows.from_row(self.model, row, using)


class User(AbstractUser):
    username = None  # type: ignore[assignment]
    email = models.EmailField(_("e-mail address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    # Set when the person's data was erased on request (accounts.erasure); the row stays because
    # every payment, refund and ledger entry points at it.
    erased_at = models.DateTimeField(_("personal data erased"), null=True, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = UserManager()
    # Staff flags and group membership are permissions: their history is kept.
    history = History(excluded_fields=["password", "last_login"])

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]
        permissions = [
            ("erase_buyer", _("Can erase a buyer's personal data")),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def audit_label(self) -> str:
        return f"User #{self.pk}"

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return (self.full_name or self.email).split(" ")[0]
