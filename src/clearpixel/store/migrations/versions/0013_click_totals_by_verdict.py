"""click_totals_by_verdict: unique clickers and implicit openers per verdict for campaigns
ingested before they were kept, from the personal events still attributed to a contact; the
overall implicit openers recounted without machine clicks (a link scanner's click is no open).
Events a withdrawal already detached from their contact cannot be counted per person.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "INSERT INTO campaign_totals (campaign_id, metric, link_id, n) "
        "SELECT campaign_id, 'clickers_' || verdict, 0, COUNT(DISTINCT contact_id) "
        "FROM personal_events WHERE event = 'click' AND contact_id IS NOT NULL "
        "GROUP BY campaign_id, verdict"
    )
    op.execute(
        "INSERT INTO campaign_totals (campaign_id, metric, link_id, n) "
        "SELECT c.campaign_id, 'implicit_openers_' || c.verdict, 0, COUNT(DISTINCT c.contact_id) "
        "FROM personal_events AS c WHERE c.event = 'click' AND c.verdict <> 'machine' "
        "AND c.contact_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM personal_events AS o "
        "WHERE o.event = 'open' AND o.verdict = c.verdict AND o.campaign_id = c.campaign_id "
        "AND o.contact_id = c.contact_id) GROUP BY c.campaign_id, c.verdict"
    )
    op.execute("DELETE FROM campaign_totals WHERE metric = 'implicit_openers'")
    op.execute(
        "INSERT INTO campaign_totals (campaign_id, metric, link_id, n) "
        "SELECT c.campaign_id, 'implicit_openers', 0, COUNT(DISTINCT c.contact_id) "
        "FROM personal_events AS c WHERE c.event = 'click' AND c.verdict <> 'machine' "
        "AND c.contact_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM personal_events AS o "
        "WHERE o.event = 'open' AND o.campaign_id = c.campaign_id "
        "AND o.contact_id = c.contact_id) GROUP BY c.campaign_id"
    )


def downgrade() -> None:
    op.execute(
        "DELETE FROM campaign_totals WHERE metric LIKE 'clickers\\_%' ESCAPE '\\' "
        "OR metric LIKE 'implicit\\_openers\\_%' ESCAPE '\\'"
    )
