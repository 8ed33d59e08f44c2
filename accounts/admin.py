"""Back-office: users, organisations, memberships, API keys (never the hash) and the audit log.

Staff rights are Django's own groups and permissions. Edits that matter for security go through
the services, so the admin writes the same audit entries and cache invalidations as the API.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts import services
from accounts.exceptions import ApplicationError
from accounts.forms import UserChangeForm, UserCreationForm
from accounts.models import ApiKey, AuditEvent, Invitation, Membership, Organization, User
from accounts.throttling import client_ip
from core.admin import ModelAdmin


@admin.register(User)
class UserAdmin(ModelAdmin, BaseUserAdmin):
    add_form = UserCreationForm
    form = UserChangeForm
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "full_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at"]


@admin.register(Organization)
class OrganizationAdmin(ModelAdmin):
    list_display = ["slug", "name", "is_active", "created_at"]
    search_fields = ["slug", "name"]
    list_filter = ["is_active"]
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]

    def save_model(
        self, request: HttpRequest, obj: Organization, form: forms.ModelForm[Organization], change: bool
    ) -> None:
        if change and "is_active" in form.changed_data:
            services.organization_set_active(organization=obj, active=obj.is_active)
        super().save_model(request, obj, form, change)


@admin.register(Membership)
class MembershipAdmin(ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "organization__slug"]
    autocomplete_fields = ["user", "organization"]

    def save_model(
        self, request: HttpRequest, obj: Membership, form: forms.ModelForm[Membership], change: bool
    ) -> None:
        try:
            if change and "role" in form.changed_data:
                services.membership_role_change(membership=obj, role=obj.role, ip=client_ip(request))
            elif not change:
                services.membership_add(
                    organization=obj.organization, user=obj.user, role=obj.role, ip=client_ip(request)
                )
            else:
                super().save_model(request, obj, form, change)
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)


@admin.register(ApiKey)
class ApiKeyAdmin(ModelAdmin):
    """Read-only apart from revocation: keys are created by their owners (API, CLI), never here."""

    list_display = [
        "prefix",
        "name",
        "organization",
        "scopes",
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["revoked_at", "organization"]
    search_fields = ["prefix", "name", "organization__slug"]
    exclude = ["key_hash"]
    readonly_fields = [
        "organization",
        "name",
        "prefix",
        "scopes",
        "allowed_models",
        "limits",
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke the selected API keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = 0
        for api_key in queryset.select_related("organization").filter(revoked_at=None):
            services.api_key_revoke(api_key=api_key, ip=client_ip(request))
            count += 1
        self.message_user(request, f"Revoked {count} key(s); every replica refuses them within seconds.")


@admin.register(Invitation)
class InvitationAdmin(ModelAdmin):
    list_display = ["email", "organization", "role", "created_at", "expires_at", "accepted_at", "revoked_at"]
    list_filter = ["role"]
    search_fields = ["email", "organization__slug"]
    exclude = ["nonce"]
    readonly_fields = [
        "organization",
        "email",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ModelAdmin):
    """Append-only: visible to staff with the view permission, never changed or deleted."""

    list_display = ["created_at", "action", "actor_email", "organization", "ip_address", "target"]
    list_filter = ["action"]
    search_fields = ["actor_email", "target", "ip_address", "organization__slug"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
