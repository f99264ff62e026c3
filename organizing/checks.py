"""Deployment checks of ours, run by `manage.py check --deploy` beside Django's."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def hardening(app_configs: Any, **kwargs: Any) -> list[Warning]:
    warnings = []
    if "admin" not in settings.OTP_REQUIRED_ROLES:
        warnings.append(
            Warning(
                "Admins can use Doorstep without two-factor.",
                hint="Keep 'admin' in OTP_REQUIRED_ROLES.",
                id="doorstep.W001",
            )
        )
    if not settings.REDIS_URL:
        warnings.append(
            Warning(
                "Without REDIS_URL, rate limits are counted in each process apart and the "
                "Celery broker is a local folder.",
                hint="Set REDIS_URL in production.",
                id="doorstep.W002",
            )
        )
    if settings.SECURE_PROXY_SSL_HEADER and not settings.TRUSTED_PROXIES:
        warnings.append(
            Warning(
                "Behind a proxy with TRUSTED_PROXIES=0, every client has the proxy's address: "
                "one address's login limit and lockout then stop everybody.",
                hint="Set TRUSTED_PROXIES to the number of proxies of yours before the app.",
                id="doorstep.W003",
            )
        )
    return warnings


@register(Tags.security)
def two_factor_roles(app_configs: Any, **kwargs: Any) -> list[Error]:
    """Only committee and admins have a page to set up a code: an organizer made to would
    be sent to one that refuses them, on every page."""
    wrong = sorted(set(settings.OTP_REQUIRED_ROLES) - {"committee", "admin"})
    if not wrong:
        return []
    return [
        Error(
            f"OTP_REQUIRED_ROLES holds {', '.join(wrong)}: only committee and admin can "
            "be required to use two-factor.",
            hint="Set OTP_REQUIRED_ROLES to admin, or committee,admin.",
            id="doorstep.E001",
        )
    ]
