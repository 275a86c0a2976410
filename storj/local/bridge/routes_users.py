"""Users: registration, activation, deactivation, password reset (§4.2).

The Bridge sends no e-mail: every message it would have sent (activation, deactivation,
reset) goes to the outbox table, readable with ``BridgeServer.outbox()`` or
``GET /_dev/outbox`` (see :mod:`storj.local.bridge.routes_info` for who may read it).

The routes that queue mail without authentication (``PATCH /users/:id``,
``POST /activations``) answer 429 ``Too Many Requests`` once
``BridgeConfig.max_mails_per_account`` mails were queued for the target account within
``mail_window`` (every mail counts, the registration's activation mail too).
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from storj.local.bridge.auth import authenticate, store_password
from storj.local.bridge.context import RequestContext, json_response
from storj.local.bridge.errors import BadRequest, NotAuthorized, NotFound, TooManyRequests
from storj.local.bridge.router import Router
from storj.local.bridge.serialize import user_json
from storj.local.bridge.store import DuplicateError, Row
from storj.local.bridge.util import activation_token, is_hex, long_token, valid_email
from storj.local.bridge.validate import check_password, check_public_key, optional_string

__all__ = ["register"]


def send_mail(ctx: RequestContext, to: str, kind: str, token: str, redirect: str | None) -> None:
    """Put the e-mail the Bridge would send into the outbox."""
    ctx.services.store.add_outbox(
        {
            "to_email": to,
            "kind": kind,
            "token": token,
            "redirect": redirect,
            "created": ctx.now_ms(),
        }
    )


def check_mail_quota(ctx: RequestContext, email: str) -> None:
    """Refuse to queue one more mail for ``email`` past ``max_mails_per_account``.

    :raises TooManyRequests: with the seconds until the oldest counted mail leaves the
        window.
    """
    config = ctx.services.config
    now = ctx.now_ms()
    window_ms = int(config.mail_window * 1000)
    recent = sorted(
        int(row["created"])
        for row in ctx.services.store.outbox(email)
        if int(row["created"]) > now - window_ms
    )
    if len(recent) >= config.max_mails_per_account:
        oldest = recent[len(recent) - config.max_mails_per_account]
        raise TooManyRequests((oldest + window_ms - now) / 1000)


def _user_or_redirect(ctx: RequestContext, user: Row) -> Response:
    redirect = ctx.query.get("redirect")
    if redirect and redirect.startswith(("http://", "https://")):
        response = Response(b"", status=302)
        response.headers["Location"] = redirect
        return response
    return json_response(user_json(user))


def _resetter(token: str) -> str:
    if not is_hex(token, 512):
        raise BadRequest("Resetter must be hex encoded 256 byte string")
    return token


def register(router: Router) -> None:
    @router.add("POST", "/users", "Register a new user")
    def create_user(ctx: RequestContext) -> Response:
        body = ctx.json()
        email = body.get("email")
        if email is None or email == "":
            raise BadRequest("Must supply an email")
        if not valid_email(email):
            raise BadRequest("Invalid email")
        password = check_password(body.get("password"))
        redirect = optional_string(body, "redirect")
        store = ctx.services.store
        pubkey = body.get("pubkey")
        if pubkey is not None:
            check_public_key(pubkey)
            if store.get_key(pubkey) is not None:
                raise BadRequest("Public key is already registered")
        if store.get_user(email) is not None:
            raise BadRequest("Email is already registered")
        now = ctx.now_ms()
        activated = ctx.services.config.auto_activate
        row: Row = {
            "email": email,
            "hashpass": store_password(password),
            "created": now,
            "activated": activated,
            "is_free_tier": True,
            "activator": None if activated else activation_token(),
        }
        key_row = None
        if pubkey is not None:
            key_row = {"pubkey": pubkey, "user_email": email, "label": "", "created": now}
        try:
            store.create_user(row, key_row)
        except DuplicateError:
            raise BadRequest("Email is already registered") from None
        if row["activator"]:
            send_mail(ctx, email, "activation", row["activator"], redirect)
        out: dict[str, Any] = user_json(row)
        if pubkey is not None:
            out["pubkey"] = pubkey
        return json_response(out, 201)

    @router.add("GET", "/activations/:token", "Activate a user account")
    def activate(ctx: RequestContext, token: str) -> Response:
        store = ctx.services.store
        user = store.user_by("activator", token) if token else None
        if user is None:
            raise BadRequest("Invalid activation token")
        updated = store.update_user(user["email"], activated=True, activator=None)
        assert updated is not None
        return _user_or_redirect(ctx, updated)

    @router.add("POST", "/activations", "Re-send the activation e-mail")
    def resend_activation(ctx: RequestContext) -> Response:
        body = ctx.json()
        email = body.get("email")
        redirect = optional_string(body, "redirect")
        store = ctx.services.store
        user = store.get_user(email) if isinstance(email, str) else None
        if user is None:
            raise NotFound("User not found")
        if user["activated"]:
            raise BadRequest("User is already activated")
        check_mail_quota(ctx, user["email"])
        activator = user["activator"] or activation_token()
        updated = store.update_user(user["email"], activator=activator)
        assert updated is not None
        send_mail(ctx, user["email"], "activation", activator, redirect)
        return json_response(user_json(updated), 201)

    @router.add("DELETE", "/users/:id", "Request deactivation of the account")
    def deactivate_request(ctx: RequestContext, id: str) -> Response:
        user = authenticate(ctx)
        if id != user["email"]:
            raise NotAuthorized("Not authorized")
        deactivator = long_token()
        updated = ctx.services.store.update_user(user["email"], deactivator=deactivator)
        assert updated is not None
        send_mail(ctx, user["email"], "deactivation", deactivator, ctx.query.get("redirect"))
        return json_response(user_json(updated))

    @router.add("GET", "/deactivations/:token", "Confirm deactivation of the account")
    def deactivate(ctx: RequestContext, token: str) -> Response:
        store = ctx.services.store
        user = store.user_by("deactivator", token) if token else None
        if user is None:
            raise NotFound("User not found")
        updated = store.update_user(
            user["email"], activated=False, deactivator=None, activator=activation_token()
        )
        assert updated is not None
        return _user_or_redirect(ctx, updated)

    @router.add("PATCH", "/users/:id", "Request a password reset")
    def reset_request(ctx: RequestContext, id: str) -> Response:
        body = ctx.json()
        store = ctx.services.store
        user = store.get_user(id)
        pending = None
        if "password" in body:  # 2016: the new password comes with the request
            pending = store_password(check_password(body.get("password")))
        redirect = optional_string(body, "redirect")
        if user is None:
            raise NotFound("User not found")
        check_mail_quota(ctx, user["email"])
        resetter = long_token()
        updated = store.update_user(user["email"], resetter=resetter, pending_hashpass=pending)
        assert updated is not None
        send_mail(ctx, user["email"], "reset", resetter, redirect)
        return json_response(user_json(updated))

    @router.add("GET", "/resets/:token", "Confirm a password reset (2016)")
    def reset_confirm(ctx: RequestContext, token: str) -> Response:
        store = ctx.services.store
        user = store.user_by("resetter", _resetter(token))
        if user is None:
            raise NotFound("User not found")
        if not user["pending_hashpass"]:
            raise BadRequest(
                "No new password is pending for this reset token: "
                "send it with POST /resets/:token {password}"
            )
        updated = store.update_user(
            user["email"], hashpass=user["pending_hashpass"], pending_hashpass=None, resetter=None
        )
        assert updated is not None
        return _user_or_redirect(ctx, updated)

    @router.add("POST", "/resets/:token", "Set a new password with a reset token (2018)")
    def reset_with_password(ctx: RequestContext, token: str) -> Response:
        store = ctx.services.store
        password = check_password(ctx.json().get("password"))
        user = store.user_by("resetter", _resetter(token))
        if user is None:
            raise NotFound("User not found")
        updated = store.update_user(
            user["email"], hashpass=store_password(password), pending_hashpass=None, resetter=None
        )
        assert updated is not None
        return json_response(user_json(updated))
