"""Donations through the real site: the campaign pages and the home page's bar, the admins'
ledger (who may do what, CSRF, the CSV) and the signed payment webhook."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from sqlalchemy import func, select

from swarmdex.db.engine import transaction
from swarmdex.db.models import Role, User, utcnow
from swarmdex.donations.models import Campaign, Donation
from swarmdex.donations.webhook import HEADER, MAX_BODY, sign
from swarmdex.web.security import CSRF_FIELD

from .helpers import Site, async_test, csrf_token, post_form, running_site

SECRET: Final = "whsec_functional"
WEBHOOK: Final = "/api/v1/donations/webhook"
TODAY: Final = utcnow().date()
CAMPAIGN: Final = {
    "title": "Keep the lights on", "description": "We *need* <script>x</script> help.",
    "currency": "EUR", "period": "monthly", "goal": "", "costs": "Hosting: 40.00\nBandwidth: 60.00",
    "starts": (TODAY - timedelta(days=40)).isoformat(), "ends": "",
}


async def members(site: Site) -> dict[str | None, httpx.AsyncClient]:
    """A browser per role (None: not logged in); accounts inserted without hashing."""
    async with transaction(site.ctx.db) as session:
        session.add_all(User(name=role.value, password_hash="!", role=role) for role in Role)
    clients: dict[str | None, httpx.AsyncClient] = {None: site.client()}
    for role in Role:
        clients[role.value] = await site.logged_in(role.value)
    return clients


async def counts(site: Site) -> tuple[int, int]:
    """(campaigns, ledger entries): what must not change when something is refused."""
    async with site.ctx.db() as session:
        campaigns = await session.scalar(select(func.count()).select_from(Campaign))
        entries = await session.scalar(select(func.count()).select_from(Donation))
    return int(campaigns or 0), int(entries or 0)


async def entries(site: Site) -> list[tuple[int, str, str | None, int | None]]:
    async with site.ctx.db() as session:
        rows = await session.execute(
            select(Donation.amount_minor, Donation.currency, Donation.reference,
                   Donation.refund_of_id).order_by(Donation.id))
        return [tuple(r) for r in rows.all()]  # type: ignore[misc]


def entry(campaign: int, **fields: str) -> dict[str, str]:
    return {"campaign": str(campaign), "amount": "25.00", "currency": "EUR",
            "date": TODAY.isoformat(), "donor_name": "Ada", "show_name": "yes",
            "message": "Keep seeding!", "method": "bank transfer", "reference": ""} | fields


async def a_campaign(site: Site, admin: httpx.AsyncClient, **fields: str) -> int:
    answer = await post_form(admin, "/admin/donations/campaigns", **(CAMPAIGN | fields))
    assert answer.status_code == 303, answer.text
    async with site.ctx.db() as session:
        found = await session.scalar(select(func.max(Campaign.id)))
    assert found is not None
    return found


# pages


@async_test
async def test_campaign_pages_and_the_home_page_bar(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        clients = await members(site)
        admin, anonymous = clients["admin"], clients[None]
        nothing = await anonymous.get("/donate")
        assert nothing.status_code == 200 and "No donations drive is running" in nothing.text
        assert "donation-bar" not in (await anonymous.get("/")).text

        campaign = await a_campaign(site, admin)
        for fields in (entry(campaign), entry(campaign, amount="50.50", donor_name="Bob", show_name=""),
                       entry(campaign, amount="10", currency="USD", message="", donor_name="")):
            assert (await post_form(admin, "/admin/donations/entries", **fields)).status_code == 303

        page = (await anonymous.get("/donate")).text
        assert page == (await anonymous.get(f"/donate/{campaign}")).text
        assert "<b>75.50 EUR</b> raised of 100.00 EUR this month" in page
        assert '<progress class="donation-bar" max="10000" value="7550"' in page
        assert 'aria-valuetext="75% of the goal: 75.50 EUR of 100.00 EUR"' in page
        assert "<li><b>75%</b> of the goal</li>" in page and "<b>3</b> donors" in page
        assert "days left this month" in page
        assert "<b>10.00 USD</b>" in page and "not converted" in page
        assert "<td>Hosting</td><td class=\"num\">40.00 EUR</td>" in page
        assert "<em>need</em>" in page and "<script>x" not in page  # Markdown, sanitised
        # The wall: only Ada asked to be named; no message before approval.
        assert page.count("<b>Anonymous</b>") == 2 and "<b>Ada</b>" in page and "Bob" not in page
        assert "Keep seeding!" not in page

        home = (await anonymous.get("/")).text
        assert 'href="/donate">Keep the lights on</a>' in home
        assert 'max="10000" value="7550"' in home
        assert (await anonymous.get("/donate/999")).status_code == 404
        assert (await anonymous.get("/donate/0")).status_code in (400, 404, 422)


@async_test
async def test_messages_show_once_approved(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        admin = (await members(site))["admin"]
        campaign = await a_campaign(site, admin)
        await post_form(admin, "/admin/donations/entries",
                        **entry(campaign, message="<b>Thanks</b> & good luck"))
        page = (await admin.get("/admin/donations")).text
        assert "&lt;b&gt;Thanks&lt;/b&gt; &amp; good luck" in page  # waiting, escaped
        assert "Thanks" not in (await site.client().get("/donate")).text
        answer = await post_form(admin, "/admin/donations/entries/1/message", decision="approve")
        assert (answer.status_code, answer.headers["location"]) == (
            303, "/admin/donations?done=approved#messages")
        shown = (await site.client().get("/donate")).text
        assert "&lt;b&gt;Thanks&lt;/b&gt; &amp; good luck" in shown
        assert (await post_form(admin, "/admin/donations/entries/1/message",
                                decision="maybe")).status_code == 400


# who may


def admin_actions(campaign: int) -> list[tuple[str, dict[str, str]]]:
    """Every form of the donations admin, with valid fields (entry 1 exists, with a message)."""
    return [
        ("/admin/donations/campaigns", CAMPAIGN | {"title": "Another"}),
        (f"/admin/donations/campaigns/{campaign}", CAMPAIGN | {"title": "Renamed"}),
        ("/admin/donations/entries", entry(campaign, reference="new-ref")),
        ("/admin/donations/entries/1/refund", {"amount": "-1.00", "reference": ""}),
        ("/admin/donations/entries/1/message", {"decision": "approve"}),
    ]


async def ledger_state(site: Site) -> tuple[Any, ...]:
    async with site.ctx.db() as session:
        titles = (await session.scalars(select(Campaign.title).order_by(Campaign.id))).all()
        statuses = (await session.scalars(select(Donation.message_status))).all()
    return (await counts(site), tuple(titles), tuple(statuses), tuple(await entries(site)))


@pytest.mark.parametrize("role", [None, "user", "trusted", "moderator"])
@async_test
async def test_no_donations_admin_action_works_for_anyone_else(tmp_path: Path, role: str | None) -> None:
    async with running_site(tmp_path) as site:
        clients = await members(site)
        campaign = await a_campaign(site, clients["admin"])
        await post_form(clients["admin"], "/admin/donations/entries", **entry(campaign))
        before = await ledger_state(site)
        client = clients[role]
        for path in ("/admin/donations", "/admin/donations.csv", f"/admin/donations/campaigns/{campaign}"):
            answer = await client.get(path)
            if role is None:
                assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), path
            else:
                assert answer.status_code == 403, path
        for path, fields in admin_actions(campaign):
            answer = await post_form(client, path, **fields)
            if role is None:
                assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), path
            else:
                assert answer.status_code == 403, path
        assert await ledger_state(site) == before


@async_test
async def test_every_donations_form_needs_the_csrf_field(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        admin = (await members(site))["admin"]
        campaign = await a_campaign(site, admin)
        await post_form(admin, "/admin/donations/entries", **entry(campaign))
        before = await ledger_state(site)
        token = await csrf_token(admin)
        for path, fields in admin_actions(campaign):
            for forged in ({}, {CSRF_FIELD: "x" * 43}, {CSRF_FIELD: token[::-1]}):
                assert (await admin.post(path, data=fields | forged)).status_code == 403, (path, forged)
        assert await ledger_state(site) == before


@async_test
async def test_every_donations_form_works_for_admins(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        admin = (await members(site))["admin"]
        campaign = await a_campaign(site, admin)
        await post_form(admin, "/admin/donations/entries", **entry(campaign))
        done = []
        for path, fields in admin_actions(campaign):
            answer = await post_form(admin, path, **fields)
            assert answer.status_code == 303, (path, answer.text)
            done.append(answer.headers["location"].split("#")[0])
        assert done == [f"/admin/donations?done={w}"
                        for w in ("campaign", "campaign", "entry", "refund", "approved")]
        assert await counts(site) == (2, 3)
        assert [e[0] for e in await entries(site)] == [2500, 2500, -100]
        edit = await admin.get(f"/admin/donations/campaigns/{campaign}")
        assert edit.status_code == 200 and "Hosting: 40.00\nBandwidth: 60.00" in edit.text
        assert (await admin.get("/admin/donations/campaigns/999")).status_code == 404


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": "25.005"}, "EUR amounts have at most 2 decimals."),
        ({"amount": "12,50"}, "Write the amount as digits with a decimal point"),
        ({"amount": "-25"}, "cannot be negative"),
        ({"amount": "100000.01"}, "more than the largest amount"),
        ({"amount": "100.5", "currency": "JPY"}, "JPY amounts have no decimals."),
        ({"currency": "EURO"}, "is not an ISO 4217 currency code"),
        ({"date": "yesterday"}, "The date received is a date"),
        ({"campaign": "x"}, "Choose the campaign"),
        ({"campaign": "999"}, "There is no such campaign."),
        ({"reference": "dup"}, "The ledger has an entry with the reference “dup” already"),
    ],
)
@async_test
async def test_refused_entries_keep_what_was_typed(tmp_path: Path, fields: dict[str, str], message: str) -> None:
    async with running_site(tmp_path) as site:
        admin = (await members(site))["admin"]
        campaign = await a_campaign(site, admin)
        await post_form(admin, "/admin/donations/entries", **entry(campaign, reference="dup"))
        answer = await post_form(admin, "/admin/donations/entries", **(entry(campaign) | fields))
        assert answer.status_code == 400
        assert message in answer.text.replace("&#34;", '"').replace("&#39;", "'")
        assert 'value="Ada"' in answer.text
        assert await counts(site) == (1, 1)


@async_test
async def test_refused_campaigns_and_refunds(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        admin = (await members(site))["admin"]
        for fields, message in [
            ({"costs": ""}, "list at least one"),
            ({"period": "one_off", "goal": "500"}, "needs a deadline"),
            ({"period": "weekly"}, "one-off or monthly"),
            ({"starts": "soon"}, "The start date is a date"),
            ({"period": "one_off", "goal": "500", "ends": "9999-12-31"}, "between 1970-01-01"),
            ({"starts": "0001-01-01"}, "between 1970-01-01"),
        ]:
            answer = await post_form(admin, "/admin/donations/campaigns", **(CAMPAIGN | fields))
            assert answer.status_code == 400 and message in answer.text, fields
        assert await counts(site) == (0, 0)
        campaign = await a_campaign(site, admin)
        await post_form(admin, "/admin/donations/entries", **entry(campaign))
        answer = await post_form(admin, "/admin/donations/entries/1/refund", amount="-30.00")
        assert answer.status_code == 400 and "Only 25.00 EUR of entry 1 is left to refund." in answer.text
        assert (await post_form(admin, "/admin/donations/entries/9/refund", amount="-1")).status_code == 404
        assert await counts(site) == (1, 1)


@async_test
async def test_the_csv_export(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        admin = (await members(site))["admin"]
        campaign = await a_campaign(site, admin)
        await post_form(admin, "/admin/donations/entries",
                        **entry(campaign, donor_name="=HYPERLINK(\"x\")", message='Hi, "all"'))
        await post_form(admin, "/admin/donations/entries", **entry(campaign, amount="1000", currency="JPY"))
        await post_form(admin, "/admin/donations/entries/1/refund", amount="-5.5")
        answer = await admin.get("/admin/donations.csv")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        assert answer.headers["content-disposition"].startswith('attachment; filename="donations-')
        rows = list(csv.DictReader(io.StringIO(answer.text, newline="")))
        assert [(r["amount"], r["currency"], r["refund_of"]) for r in rows] == [
            ("-5.50", "EUR", "1"), ("1000", "JPY", ""), ("25.00", "EUR", "")]
        assert rows[2]["donor_name"] == "'=HYPERLINK(\"x\")" and rows[2]["message"] == 'Hi, "all"'


# the webhook


def signed(body: bytes, *, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    return {HEADER: sign(body, secret.encode(), int(time.time() if at is None else at)),
            "Content-Type": "application/json"}


def payment(**fields: Any) -> bytes:
    base: dict[str, Any] = {"reference": "ch_1", "amount": "12.50", "currency": "EUR",
                            "donor_name": "Ada", "show_name": True, "message": "From the API"}
    return json.dumps({k: v for k, v in (base | fields).items() if v is not None}).encode()


@async_test
async def test_the_webhook_is_off_without_a_secret(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        body = payment()
        answer = await site.client().post(WEBHOOK, content=body, headers=signed(body))
        assert answer.status_code == 404 and answer.json() == {"detail": "Not Found"}


@async_test
async def test_the_webhook_books_a_signed_payment_once(tmp_path: Path) -> None:
    async with running_site(tmp_path, donations_webhook_secret=SECRET) as site:
        admin = (await members(site))["admin"]
        campaign = await a_campaign(site, admin)
        client = site.client()
        body = payment()
        first = await client.post(WEBHOOK, content=body, headers=signed(body))
        assert first.status_code == 201, first.text
        made = first.json()
        assert made | {"received_at": None} == {
            "id": 1, "reference": "ch_1", "amount": "12.50", "currency": "EUR",
            "campaign": campaign, "refund_of": None, "received_at": None, "created": True}
        # The same reference again, even with other contents: 200, the entry as it was.
        for again in (body, payment(amount="999.00")):
            answer = await client.post(WEBHOOK, content=again, headers=signed(again))
            assert answer.status_code == 200
            assert answer.json() == made | {"created": False}
        refund = payment(reference="re_1", type="refund", refund_of="ch_1", amount="-2.50",
                         donor_name=None, show_name=None, message=None)
        answer = await client.post(WEBHOOK, content=refund, headers=signed(refund))
        assert answer.status_code == 201 and answer.json()["refund_of"] == 1
        assert await entries(site) == [(1250, "EUR", "ch_1", None), (-250, "EUR", "re_1", 1)]
        page = (await site.client().get("/donate")).text
        assert "<b>10.00 EUR</b> raised" in page


def _tampered(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body.replace(b"12.50", b"92.50"), signed(body)


BAD_REQUESTS: Final[list[tuple[str, Any, int, str]]] = [
    # (what, (body, headers) maker, status, part of detail)
    ("unsigned", lambda b: (b, {"Content-Type": "application/json"}), 401, "header is missing"),
    ("tampered body", _tampered, 401, "does not match"),
    ("wrong secret", lambda b: (b, signed(b, secret="not-the-secret")), 401, "does not match"),
    ("old timestamp", lambda b: (b, signed(b, at=time.time() - 301)), 401, "too old or in the future"),
    ("future timestamp", lambda b: (b, signed(b, at=time.time() + 301)), 401, "too old or in the future"),
    ("garbled header", lambda b: (b, {HEADER: "v1=abc"}), 401, "malformed"),
    ("malformed JSON", lambda b: (b[:-1], signed(b[:-1])), 400, "not JSON"),
    ("not an object", lambda b: (b"[1]", signed(b"[1]")), 400, "JSON object"),
    ("float amount", lambda b: (payment(amount=12.5), signed(payment(amount=12.5))), 422,
     "not a JSON number"),
    ("negative amount", lambda b: (payment(amount="-12.50"), signed(payment(amount="-12.50"))), 422,
     "cannot be negative"),
    ("absurd amount", lambda b: (payment(amount="100000000"), signed(payment(amount="100000000"))), 422,
     "more than the largest amount"),
    ("too many decimals", lambda b: (payment(amount="1.005"), signed(payment(amount="1.005"))), 422,
     "at most 2 decimals"),
    ("wrong currency code", lambda b: (payment(currency="EURO"), signed(payment(currency="EURO"))), 422,
     "not an ISO 4217 currency code"),
    ("unknown campaign", lambda b: (payment(campaign=99), signed(payment(campaign=99))), 422,
     "no such campaign"),
    ("refund of nothing", lambda b: (
        payment(type="refund", refund_of="x", amount="-1"),
        signed(payment(type="refund", refund_of="x", amount="-1"))), 422, "No entry has the reference"),
    ("too large", lambda b: (b" " * (MAX_BODY + 1), signed(b" " * (MAX_BODY + 1))), 413, "larger than"),
]


@pytest.mark.parametrize(("what", "make", "status", "detail"), BAD_REQUESTS,
                         ids=[case[0] for case in BAD_REQUESTS])
@async_test
async def test_the_webhook_refuses_and_changes_nothing(
    tmp_path: Path, what: str, make: Any, status: int, detail: str
) -> None:
    async with running_site(tmp_path, donations_webhook_secret=SECRET,
                            donations_max_amount="1000000") as site:
        admin = (await members(site))["admin"]
        await a_campaign(site, admin)
        await post_form(admin, "/admin/donations/entries", **entry(1, reference="ch_0"))
        before = await entries(site)
        body, headers = make(payment())
        answer = await site.client().post(WEBHOOK, content=body, headers=headers)
        assert answer.status_code == status, (what, answer.text)
        assert detail in json.dumps(answer.json()["detail"], ensure_ascii=False), (what, answer.text)
        assert await entries(site) == before


@async_test
async def test_a_replayed_request_books_nothing_twice(tmp_path: Path) -> None:
    async with running_site(tmp_path, donations_webhook_secret=SECRET) as site:
        admin = (await members(site))["admin"]
        await a_campaign(site, admin)
        body = payment()
        headers = signed(body)
        client = site.client()
        statuses = [(await client.post(WEBHOOK, content=body, headers=headers)).status_code
                    for _ in range(3)]
        assert statuses == [201, 200, 200]
        assert await counts(site) == (1, 1)
