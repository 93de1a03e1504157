"""`clearpixel campaign schedule|unschedule|archive|restore`: a send started later by
`clearpixel serve`, and the archive of sent or cancelled campaigns."""

from __future__ import annotations

import typer

from clearpixel.cli.base import campaign_app, console, context


def schedule_at(campaign: str, at: str) -> None:
    """Schedule `campaign` for the time `at` and say when it starts, in the installation's
    zone and in UTC."""
    from clearpixel.sending import schedule

    with context() as ctx:
        when = schedule.parse_time(at, ctx.settings.zone)
        found = schedule.schedule_campaign(ctx, campaign, when)
        text = schedule.shown(found.scheduled_at or when, ctx.settings.zone)
    console.print(
        f"campaign {found.id} scheduled for {text}: `clearpixel serve` starts it then "
        f"(`campaign unschedule {found.id}` to change it)"
    )


@campaign_app.command("schedule")
def schedule_cmd(
    campaign: str = typer.Argument(..., help="Campaign id (or public id)."),
    at: str = typer.Option(
        ...,
        "--at",
        help="When, e.g. 2026-12-01T09:00+01:00 (without an offset, in CLEARPIXEL_TIMEZONE).",
    ),
) -> None:
    """Schedule a draft for a time; a running `clearpixel serve` starts it then, with the
    template, suppression and consent checked at that moment."""
    schedule_at(campaign, at)


@campaign_app.command("unschedule")
def unschedule_cmd(campaign: str = typer.Argument(..., help="Campaign id (or public id).")) -> None:
    """Make a scheduled campaign a draft again (to edit it or send it now)."""
    from clearpixel.sending import schedule

    with context() as ctx:
        found = schedule.unschedule_campaign(ctx, campaign)
    console.print(f"campaign {found.id}: {found.status}, no longer scheduled")


@campaign_app.command("archive")
def archive_cmd(campaign: str = typer.Argument(..., help="Campaign id (or public id).")) -> None:
    """Archive a sent or cancelled campaign: it leaves `campaign ls` (see `--archived`); its
    report, sends and ledger stay."""
    from clearpixel.sending import campaigns

    with context() as ctx:
        found = campaigns.archive_campaign(ctx, campaign)
    console.print(f"campaign {found.id} archived")


@campaign_app.command("restore")
def restore_cmd(campaign: str = typer.Argument(..., help="Campaign id (or public id).")) -> None:
    """Bring an archived campaign back into `campaign ls`."""
    from clearpixel.sending import campaigns

    with context() as ctx:
        found = campaigns.archive_campaign(ctx, campaign, archived=False)
    console.print(f"campaign {found.id} restored")
