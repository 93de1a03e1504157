"""What `clearpixel demo` runs (the command itself is in cli/demo.py): a ready-to-explore
installation in the data folder, built through the real paths: CSV import, campaign send to
the outbox, and simulated recipients making real HTTP requests to the real endpoints (pixels,
links, consent and preference pages) of the app served on a free loopback port. Then the
reports, and how to sign in to see them in the browser.

Each run adds a fresh list (`demo`, `demo-2`, ...) with its two campaigns; nothing earlier is
changed. The generated contacts, their choices and their behaviour come from a fixed seed.
"""

from __future__ import annotations

import csv
import random
import tempfile
import time
from pathlib import Path

from rich.table import Table

from clearpixel.audience import lists as list_service
from clearpixel.audience.csv_import import import_csv
from clearpixel.cli import demo_traffic as traffic
from clearpixel.cli.base import console
from clearpixel.cli.report import render
from clearpixel.cli.users import ADMIN_PASSWORD_ENV, ensure_admin_account
from clearpixel.config import ensure_secret_keys, load_settings
from clearpixel.consent.notices import ensure_defaults
from clearpixel.context import Context, open_context
from clearpixel.reports.campaign import CampaignReport, campaign_report
from clearpixel.reports.consent import consent_dashboard
from clearpixel.sending import campaigns as sending
from clearpixel.sending.transports import OutboxTransport
from clearpixel.web.server import ThreadedServer

FIRST = (
    "Camille", "Léa", "Louis", "Chloé", "Hugo", "Manon", "Lucas", "Inès", "Jules", "Emma",
    "Noah", "Olivia", "Liam", "Ava", "Ethan", "Mia", "Oscar", "Zoé", "Arthur", "Alice",
)  # fmt: skip
CITIES = (
    "Paris", "Lyon", "Lille", "Nantes", "Bordeaux", "London", "Leeds", "Dublin", "Brussels",
)  # fmt: skip
# (flags, share): never asked, asked and refused, open tracking, + personalisation, all three.
FLAGS_MIX = ((None, 0.30), (0, 0.20), (1, 0.20), (3, 0.15), (7, 0.10), (2, 0.05))

NEWSLETTER = """<!doctype html>
<html><head><meta charset="utf-8"><title>November news</title></head>
<body>
<h1>{% if locale == "fr" %}Bonjour{% else %}Hello{% endif %} {{ first_name }},</h1>
<p>{% if locale == "fr" %}Les nouveautés de novembre : notre atelier de {{ city }} ouvre ses
portes.{% else %}What is new in November: our {{ city }} workshop opens its doors.{% endif %}</p>
<p><a href="https://shop.example.org/november">November collection</a> ·
<a href="https://shop.example.org/workshops">Workshops</a> ·
<a href="https://blog.example.org/behind-the-scenes">Behind the scenes</a></p>
</body></html>
"""

CONSENT_REQUEST = """<!doctype html>
<html><head><meta charset="utf-8"><title>May we know when you open our emails?</title></head>
<body>
<p>{% if locale == "fr" %}Bonjour {{ first_name }}, pouvons-nous savoir quand vous ouvrez nos
e-mails ? Vous choisissez, et pouvez changer d'avis à tout moment.{% else %}Hello
{{ first_name }}, may we know when you open our emails? It is your choice, and you can change
your mind at any time.{% endif %}</p>
<p><a href="{{ consent_url }}">{% if locale == "fr" %}Choisir{% else %}Choose{% endif %}</a></p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>
"""


def _fresh_list_name(ctx: Context) -> str:
    taken = {x.name for x in list_service.all_lists(ctx)}
    name, n = "demo", 1
    while name in taken:
        n += 1
        name = f"demo-{n}"
    return name


def _write_contacts(path: Path, count: int, rng: random.Random, tag: str) -> None:
    flags_values = [f for f, _ in FLAGS_MIX]
    weights = [w for _, w in FLAGS_MIX]
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["email", "privacy_flags", "first_name", "locale", "city"])
        for i in range(count):
            first = rng.choice(FIRST)
            flags = rng.choices(flags_values, weights)[0]
            locale = "fr" if rng.random() < 0.55 else "en"
            out.writerow(
                [
                    f"{first.lower()}.{i}@{tag}.example.org",
                    "" if flags is None else str(flags),
                    first,
                    locale,
                    rng.choice(CITIES),
                ]
            )


def run(*, contacts: int, seed: int) -> None:
    """Build the demo installation (see `clearpixel demo`)."""
    started = time.monotonic()
    settings = load_settings()
    ensure_secret_keys(settings)
    ctx = open_context(settings)
    try:
        _run(ctx, contacts=contacts, seed=seed, started=started)
    finally:
        ctx.db.dispose()


def _run(ctx: Context, *, contacts: int, seed: int, started: float) -> None:
    settings = ctx.settings
    rng = random.Random(seed)
    list_service.sync_purposes(ctx)
    password = ensure_admin_account(ctx)
    ensure_defaults(ctx)

    name = _fresh_list_name(ctx)
    list_service.create_list(ctx, name)
    with tempfile.TemporaryDirectory(prefix="clearpixel-demo-") as folder:
        path = Path(folder) / f"{name}.csv"
        _write_contacts(path, contacts, rng, name)
        report = import_csv(
            ctx,
            path,
            list_name=name,
            basis="demo data: generated contacts with the choices they made on a signup form",
        )
    console.print(
        f"list {name!r}: imported {report.created} contacts "
        f"({report.flags_changed} with recorded choices; the rest never asked)"
        f"  [{time.monotonic() - started:.1f} s]"
    )

    marketing = sending.create_campaign(
        ctx,
        list_name=name,
        kind="marketing",
        subject="November news",
        html=NEWSLETTER,
        name=f"November news ({name})",
    )
    request = sending.create_campaign(
        ctx,
        list_name=name,
        kind="consent_request",
        subject="May we know when you open our emails?",
        html=CONSENT_REQUEST,
        name=f"Open-tracking consent request ({name})",
    )
    outboxes = {}
    for campaign in (marketing, request):
        outbox = settings.data_dir / "outbox" / campaign.public_id
        sent = sending.send_campaign(ctx, campaign.id, OutboxTransport(outbox))
        outboxes[campaign.id] = outbox
        modes = ", ".join(
            f"{m} {n}" for m, n in sorted(sending.sent_by_mode(ctx, campaign.id).items())
        )
        console.print(
            f"{campaign.kind} campaign {campaign.id}: {sent.sent} emails to {outbox} ({modes})"
            f"  [{time.monotonic() - started:.1f} s]"
        )

    tally = traffic.Tally()
    base = settings.base_url
    marketing_mail = traffic.read_outbox(outboxes[marketing.id], base)
    request_mail = traffic.read_outbox(outboxes[request.id], base)
    with ThreadedServer(ctx, trust_loopback_proxy=True) as server:
        client = traffic.Client(server.port)
        console.print(
            f"simulating recipients against http://127.0.0.1:{server.port} ..."
            f"  [{time.monotonic() - started:.1f} s]"
        )
        try:
            traffic.run_all(traffic.marketing_traffic(client, marketing_mail, rng, tally))
            traffic.run_all(traffic.consent_traffic(client, request_mail, rng, tally))
            traffic.run_all(traffic.withdrawal_traffic(client, marketing_mail, rng, tally, 0.05))
        finally:
            client.close()
        console.print(
            f"traffic done, flushing the hit buffer  [{time.monotonic() - started:.1f} s]"
        )
    table = Table("simulated request", "count", title="Traffic through the real endpoints")
    for what, n in sorted(tally.counts.items()):
        table.add_row(what, str(n))
    console.print(table)

    for campaign in (marketing, request):
        _print_report(campaign_report(ctx, str(campaign.id)))
    _print_consent(ctx, name)

    console.print(f"\ndemo built in {time.monotonic() - started:.1f} s.")
    console.print("\nSee it in the browser:")
    console.print("  uv run clearpixel serve")
    console.print(f"  then open {base.rstrip('/')}/admin  (user 'admin')")
    if password is None:
        console.print(
            "  password: the one printed when this data folder was initialised "
            f"(to set a new one: {ADMIN_PASSWORD_ENV}=... clearpixel init)"
        )


def _print_report(found: CampaignReport) -> None:
    """Print the report as `clearpixel report` does."""
    console.print()
    for line in render(found):
        console.print(line, markup=False)


def _print_consent(ctx: Context, list_name: str) -> None:
    board = consent_dashboard(ctx)
    for item in board.lists:
        if item.list_name != list_name:
            continue
        table = Table(
            "purpose",
            "never asked (NULL)",
            "refused (0)",
            "granted",
            title=f"Consent coverage, list {list_name} ({item.contacts} contacts)",
        )
        for p in item.purposes:
            table.add_row(p.purpose, str(p.never_asked), str(p.refused), str(p.granted))
        console.print(table)
    table = Table(
        "consent request",
        "sent",
        "accepted",
        "refused",
        "no decision",
        "no answer yet",
        title="Consent-request outcomes",
    )
    for r in board.requests:
        table.add_row(
            r.name, str(r.sent), str(r.accepted), str(r.refused), str(r.no_decision), str(r.pending)
        )
    console.print(table)
    total = sum(w.total for w in board.withdrawals)
    console.print(f"withdrawals of open-tracking consent so far: {total}")
