"""Teams activities: messages (`improve …` and replies in a card's reply chain), Action.Execute invokes
(buttons and form submits) and installs. Each remembers where it came from, then calls the product's service."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from microsoft_teams.api.activities.utils.strip_mentions_text import StripMentionsTextOptions
from microsoft_teams.api.models import InvokeResponse
from microsoft_teams.apps import ActivityContext, App
from sqlalchemy.exc import IntegrityError

from bot.core.commands import Misspelled, Typed, misspelled_text, recognize
from bot.core.messages import Message, Paragraph, spans
from bot.core.outcomes import NOT_RECORDED, NOT_SAVED, SORRY, UNAVAILABLE, FormErrors, Notice, OpenForm, Outcome, Show
from bot.core.ports import WORKSPACE, ChatError
from bot.improvements.forms import SHARED
from bot.improvements.report import RAISED_BY, SOURCE_LINK
from bot.insights import home_views
from bot.service import ImproveService
from handlers.teams import render
from handlers.teams.port import TeamsChat, card_activity
from handlers.teams.references import References, seen_in
from handlers.teams.tenants import Tenants
from storage.db import DOWN, Unavailable

log = logging.getLogger("improvebot.teams")
GREETING = "Hi! I'm Improve. Whoever sees a broken process is the best person to fix it; here is how I help."
FORM_SENT = "I've sent you the form in our 1:1 chat."
FORM_BELOW = "The form is below, as a new message."
HOME_SENT = "Your home is yours alone: I've sent it to our 1:1 chat."
FIRST_ADMIN = (" You added me first here, so you are this organization's Improve admin: pick its channels and "
               "approvers with **improve settings**.")  # fmt: skip


def _dump(ctx: ActivityContext[Any]) -> dict[str, Any]:
    return ctx.activity.model_dump(mode="json", by_alias=True, exclude_none=True)


def _card_response(card: dict[str, Any]) -> InvokeResponse[Any]:
    return InvokeResponse(status=200, body={"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive",
                                            "value": card})  # fmt: skip


SENT = "✅ Sent. Everything else happens in the thread."


@dataclass(frozen=True)
class _Answered:
    """What a submitted form comes to: the form again (`card`: with its errors, or one more question), or words
    (`stale`: the form is out of date)."""

    card: dict[str, Any] | None = None
    said: str = ""
    stale: bool = False


def _task_message(text: str) -> InvokeResponse[Any]:
    """A message action's dialog answered with a message (Teams shows it in a small box)."""
    return InvokeResponse(status=200, body={"task": {"type": "message", "value": render.neutralize(text)}})


def _message_response(text: str) -> InvokeResponse[Any]:
    return InvokeResponse(status=200, body={"statusCode": 200, "type": "application/vnd.microsoft.activity.message",
                                            "value": text})  # fmt: skip


OTHER_TENANT = "Sorry, this Improve bot is set up for another organization."
TRY_AGAIN = "Sorry, Teams did not take that just now. Please try again in a moment."


def _without_bot_mention(activity: dict[str, Any]) -> str:
    """The message's text without the bot's own @mention (as new messages are read); other mentions stay."""
    text = str(activity.get("text") or "")
    bot = str((activity.get("recipient") or {}).get("id") or "")
    for entity in activity.get("entities") or []:
        if not (isinstance(entity, dict) and entity.get("type") == "mention" and isinstance(entity.get("text"), str)):
            continue
        if str((entity.get("mentioned") or {}).get("id") or "") == bot:
            text = text.replace(entity["text"], "")
    return text.strip()


def register(
    app: App,
    service: ImproveService,
    chat: TeamsChat,
    refs: References,
    background: Callable[[Any], None],
    *,
    tenants: Tenants,
    intake_channel: str,
) -> None:
    """`tenants`: the organisations this bot serves (activities from any other are turned away unrecorded), each
    its own workspace. `intake_channel`: where the improvements' threads are."""

    async def remember(activity: dict[str, Any]) -> tuple[str, str]:
        seen = seen_in(activity)
        user, tenant = seen["user"]["aad"], seen["tenant_id"].lower()
        if not tenants.serves(tenant):
            return "", user
        in_use = activity.get("type") in ("message", "invoke")  # not a member list changing
        WORKSPACE.set(tenant)  # the rest of this activity's work is this organisation's
        if seen["service_url"]:
            try:
                ws = await service.workspace(tenant)
                try:
                    await asyncio.to_thread(refs.remember, ws.id, seen, service.clock.now(), in_use=in_use)
                except IntegrityError:  # the install's two activities raced; the other one stored it
                    await asyncio.to_thread(refs.remember, ws.id, seen, service.clock.now(), in_use=in_use)
            except (Unavailable, *DOWN) as exc:  # learnt again from the next activity
                log.warning("could not remember where a Teams activity came from: the database is unavailable (%s)",
                            type(exc).__name__)  # fmt: skip
        return tenant, user

    @app.on_message
    async def on_message(ctx: ActivityContext[Any]) -> None:
        try:
            await _on_message(ctx)
        except Exception:  # the person must still hear something
            log.exception("a Teams message could not be handled")
            await ctx.send(SORRY)

    async def _on_message(ctx: ActivityContext[Any]) -> None:
        activity = _dump(ctx)
        tenant, user = await remember(activity)
        if not tenant or not user:
            return
        personal = (activity.get("conversation") or {}).get("conversationType") == "personal"
        addressed = personal or ctx.activity.is_recipient_mentioned()
        bot_only = StripMentionsTextOptions(account_id=ctx.activity.recipient.id)
        text = ctx.activity.strip_mentions_text(bot_only).text or ""  # other people's mentions stay in the text
        conversation = (activity.get("conversation") or {}).get("id", "")
        # in a channel, commands need an @mention; "/improve" works too
        typed = recognize(text.strip().removeprefix("/"), render.COMMAND_WORD) if addressed else None
        base, _, thread = conversation.partition(";messageid=")
        if isinstance(typed, Typed):
            shared = {} if personal else {SHARED: "1"}  # a form card there is everyone's to see
            outcome = await service.command(tenant, user, typed.rest, {"conversation": conversation, **shared})
            if isinstance(outcome, Show) and outcome.message.refresh and not personal:  # a home is nobody else's
                home = _for(await chat.card(outcome.message), ctx)
                await ctx.send(HOME_SENT if await _send_personal(user, home, "their home") else TRY_AGAIN)
                return
            await _answer(ctx, outcome)
        elif thread:  # a reply in a post's reply chain: maybe an answer to a why
            try:
                message_id = str(activity.get("id") or "")
                await service.thread_reply(tenant, channel=base, thread=thread, user=user, text=text,
                                           ids=(message_id,), ref=f"{base}:{message_id}")  # fmt: skip
            except Unavailable as exc:  # Teams does not send it again: say so where it was written
                log.warning("a Teams thread message could not be looked at: the database is unavailable (%s)", exc)
                if base == intake_channel:  # the improvements' threads live there
                    await ctx.send(NOT_RECORDED)
        elif isinstance(typed, Misspelled):
            await ctx.send(render.neutralize(misspelled_text(typed, render.COMMAND_WORD)))
        elif personal and not await _passed_on(ctx, tenant, user, conversation, str(activity.get("id") or "")):
            await _answer(ctx, await service.command(tenant, user, "help", {}))

    async def _passed_on(ctx: ActivityContext[Any], tenant: str, user: str, conversation: str, message_id: str) -> bool:
        """A message in the 1:1 chat: an anonymous reporter's words, passed on to their report's thread."""
        text = ctx.activity.text or ""
        try:
            return await service.private_message(tenant, channel=conversation, user=user, text=text,
                                                 ids=(f"{conversation}:{message_id}",))  # fmt: skip
        except Unavailable as exc:  # Teams does not send it again: say so
            log.warning("a Teams 1:1 message could not be looked at: the database is unavailable (%s)", exc)
            await ctx.send(NOT_RECORDED)
            return True

    @app.on_message_update
    async def on_message_update(ctx: ActivityContext[Any]) -> None:
        await _changed(ctx, "edited")

    @app.on_message_delete
    async def on_message_delete(ctx: ActivityContext[Any]) -> None:
        await _changed(ctx, "deleted")

    async def _changed(ctx: ActivityContext[Any], kind: Literal["edited", "deleted"]) -> None:
        """An edited or deleted reply: when it was an answer to a why, the answer follows it. Nothing is said
        back (an edit is not a conversation); a failure is logged and the answer stays as it was."""
        try:
            activity = _dump(ctx)
            tenant, user = await remember(activity)
            conversation = (activity.get("conversation") or {}).get("id", "")
            base, _, thread = str(conversation).partition(";messageid=")
            message_id = str(activity.get("id") or "")
            event = str(((activity.get("channelData") or {}).get("eventType")) or "")
            if not tenant or not user or not thread or not message_id or event == "undeleteMessage":
                return  # an undeleted message stays taken back: the why was asked again already
            text = _without_bot_mention(activity) if kind == "edited" else ""
            await service.thread_reply(tenant, channel=base, thread=thread, user=user, text=text, ids=(),
                                       ref=f"{base}:{message_id}", kind=kind)  # fmt: skip
        except Unavailable as exc:
            log.warning("a Teams %s message could not be looked at: the database is unavailable (%s)", kind, exc)
        except Exception:
            log.exception("a Teams %s message could not be handled", kind)

    async def _answer(ctx: ActivityContext[Any], outcome: Outcome) -> None:
        """A command's answer, in the conversation it was typed in (an error here: Teams shows the send failed)."""
        if isinstance(outcome, OpenForm):
            await ctx.send(card_activity(render.form_card(outcome.form, {})))
            if outcome.leftover:
                await ctx.send(render.neutralize(f"{outcome.LEFTOVER}\n\n{outcome.leftover}"))
        elif isinstance(outcome, Show):
            await ctx.send(card_activity(_for(await chat.card(outcome.message), ctx)))
        elif isinstance(outcome, Notice):
            await ctx.send(render.neutralize(outcome.text))

    def _for(card: dict[str, Any], ctx: ActivityContext[Any]) -> dict[str, Any]:
        """A card that refreshes itself (a home view) does so for the person it was made for (Universal Actions
        refresh automatically for the userIds listed)."""
        sender = getattr(ctx.activity, "from_", None)
        if "refresh" in card and sender is not None and getattr(sender, "id", None):
            card["refresh"]["userIds"] = [str(sender.id)]
        return card

    async def _home(ctx: ActivityContext[Any], tenant: str, user: str, notice: str = "") -> InvokeResponse[Any]:
        """The person's home view, as its card's refresh (or a click on it) asks for it."""
        try:
            message = await service.home(tenant, user, notice=notice)
        except Unavailable as exc:
            log.warning("the home of %s could not be read: %s", user, exc)
            return _message_response(UNAVAILABLE)
        return _card_response(_for(await chat.card(message), ctx))

    async def _from_home(ctx: ActivityContext[Any], tenant: str, user: str, outcome: Outcome) -> InvokeResponse[Any]:
        """A click on the home card answers with the home as it is now (the card stays the home); a form or a
        view the click opens comes as a new message in the 1:1 chat, below it."""
        notice = outcome.text if isinstance(outcome, Notice) else ""
        if isinstance(outcome, OpenForm | Show):
            if isinstance(outcome, OpenForm):
                card, notice = render.form_card(outcome.form, await chat.names([user])), FORM_BELOW
            else:
                card = await chat.card(outcome.message)
            if not await _send_personal(user, card, "what the home card opened"):
                notice = TRY_AGAIN
        return await _home(ctx, tenant, user, notice)

    async def _send_personal(user: str, card: dict[str, Any], what: str) -> bool:
        """`card` in the person's 1:1 chat with the bot; False (logged) when Teams did not take it."""
        try:
            await chat.send_card(await chat.personal_conversation(user), card)
        except ChatError as exc:
            log.warning("could not send a person %s: %s", what, exc)
            return False
        return True

    @app.on_card_action
    async def on_card_action(ctx: ActivityContext[Any]) -> InvokeResponse[Any]:
        try:
            return await _on_card_action(ctx)
        except Exception:  # the person must still hear something
            log.exception("a Teams card action could not be handled")
            return _message_response(SORRY)

    async def _on_card_action(ctx: ActivityContext[Any]) -> InvokeResponse[Any]:
        activity = _dump(ctx)
        tenant, user = await remember(activity)
        action = ((activity.get("value") or {}).get("action")) or {}
        verb, data = str(action.get("verb") or ""), action.get("data") or {}
        if not tenant:
            return _message_response(OTHER_TENANT)
        if not user or not isinstance(data, dict):
            return _message_response("That did not come through; please try again.")
        if verb == render.SUBMIT:
            return await _submit(tenant, user, data)
        if verb == home_views.REFRESH:
            return await _home(ctx, tenant, user)
        outcome = await service.click(tenant, user, verb, str(data.get("value") or ""), deliver=False)
        background(service.deliver())  # the answer goes back now; the thread and cards update right after
        if data.get("view") == home_views.REFRESH:
            return await _from_home(ctx, tenant, user, outcome)
        if isinstance(outcome, OpenForm):
            personal = (activity.get("conversation") or {}).get("conversationType") == "personal"
            names = await chat.names([user])
            card = render.form_card(outcome.form, names)
            if personal:
                return _card_response(card)  # the form takes the button card's place in this 1:1 chat
            return _message_response(FORM_SENT if await _send_personal(user, card, "its form") else TRY_AGAIN)
        if isinstance(outcome, Notice):
            return _message_response(outcome.text)
        if isinstance(outcome, Show):
            return _card_response(await chat.card(outcome.message))
        return _message_response("Done.")

    async def _submit(tenant: str, user: str, data: dict[str, Any]) -> InvokeResponse[Any]:
        """A form card submitted: the card it becomes (the form again, or what happened)."""
        answered = await _answer_form(tenant, user, data)
        if answered.card is not None:
            return _card_response(answered.card)
        return _message_response(answered.said) if answered.stale else _card_response(render.text_card(answered.said))

    async def _answer_form(tenant: str, user: str, data: dict[str, Any]) -> _Answered:
        """Save a submitted form (a card's, or a message action dialog's)."""
        form_id = str(data.get("form") or "")
        context = render.form_context(data)
        spec = await service.form_spec(tenant, form_id, context)
        if spec is None:
            return _Answered(said="That form is out of date.", stale=True)
        raw = render.form_values(spec, data)
        shown = spec.model_copy(update={"context": context, "title": str(data.get("title") or spec.title)})
        try:
            outcome = await service.submit_form(tenant, user, form_id, context, raw, deliver=False)
        except Exception as exc:
            unavailable = isinstance(exc, Unavailable)
            if unavailable:
                log.warning("could not save %s: the database is unavailable (%s)", form_id, exc)
            else:
                log.exception("could not save %s", form_id)
            first = spec.fields[0].id if spec.fields else ""
            errors = {first: UNAVAILABLE if unavailable else NOT_SAVED}
            return _Answered(card=render.form_card(shown, {}, values=raw, errors=errors))
        if isinstance(outcome, FormErrors):
            return _Answered(card=render.form_card(shown, {}, values=raw, errors=outcome.errors))
        if isinstance(outcome, OpenForm):  # one more question before it is saved: the card becomes the new form
            return _Answered(card=render.form_card(outcome.form, await chat.names([user])))
        background(service.deliver())
        return _Answered(said=outcome.text if isinstance(outcome, Notice) else SENT)

    @app.on_message_ext_open
    async def on_message_ext_open(ctx: ActivityContext[Any]) -> InvokeResponse[Any]:
        """ "Report a broken process" on a message: the report form in a dialog, prefilled with its text."""
        try:
            activity = _dump(ctx)
            tenant, user = await remember(activity)
            value = activity.get("value") or {}
            if not tenant or not user:
                return _task_message(OTHER_TENANT if not tenant else "That did not come through; please try again.")
            if value.get("commandId") != render.REPORT_MESSAGE:
                return _task_message("That action is out of date.")
            payload = value.get("messagePayload") or {}
            context = {}
            if (activity.get("conversation") or {}).get("conversationType") == "channel":  # not a 1:1 or group chat
                author = str(((payload.get("from") or {}).get("user") or {}).get("id") or "").lower()
                context = {RAISED_BY: author, SOURCE_LINK: str(payload.get("linkToMessage") or "")}
            outcome = await service.report_message(tenant, user, render.message_text(payload.get("body")), context)
            if isinstance(outcome, OpenForm):
                return InvokeResponse(status=200, body=render.task_card(render.form_card(outcome.form, {}),
                                                                        outcome.form.title))  # fmt: skip
            return _task_message(outcome.text if isinstance(outcome, Notice) else SORRY)
        except Exception:
            log.exception("a Teams message action could not be opened")
            return _task_message(SORRY)

    @app.on_message_ext_submit
    async def on_message_ext_submit(ctx: ActivityContext[Any]) -> InvokeResponse[Any]:
        """The dialog's form submitted: saved as a card's form is; the dialog shows what comes next."""
        try:
            activity = _dump(ctx)
            tenant, user = await remember(activity)
            data = (activity.get("value") or {}).get("data")
            if not tenant or not user or not isinstance(data, dict):
                return _task_message(OTHER_TENANT if not tenant else "That did not come through; please try again.")
            answered = await _answer_form(tenant, user, data)
            if answered.card is not None:  # a form again: its errors, or one more question
                title = str(data.get("title") or "Improve")
                return InvokeResponse(status=200, body=render.task_card(answered.card, title))
            return _task_message(answered.said)
        except Exception:
            log.exception("a Teams message action could not be saved")
            return _task_message(NOT_SAVED)

    @app.on_conversation_update
    async def on_conversation_update(ctx: ActivityContext[Any]) -> None:
        await remember(_dump(ctx))

    @app.on_install_add
    async def on_install(ctx: ActivityContext[Any]) -> None:
        tenant, user = await remember(_dump(ctx))
        if not tenant:
            await ctx.send(OTHER_TENANT)
            return
        admin = await asyncio.to_thread(tenants.installed, tenant, user, service.clock.now())
        service.forget_workspace(tenant)
        outcome = await service.command(tenant, user, "help", {})
        if isinstance(outcome, Show):
            greeting = Paragraph(spans=spans(GREETING + (FIRST_ADMIN if admin else "")))
            outcome = Show(Message(summary=GREETING, blocks=[greeting, *outcome.message.blocks]))
        await _answer(ctx, outcome)

    @app.on_install_remove
    async def on_uninstall(ctx: ActivityContext[Any]) -> None:
        activity = _dump(ctx)
        tenant = seen_in(activity)["tenant_id"].lower()
        if tenants.serves(tenant):
            await asyncio.to_thread(tenants.removed, tenant, activity, service.clock.now())
