"""What people do on Teams, shared by the tests: the report and proposal answers, and a report from start to card."""

from __future__ import annotations

from tests.support.teams_world import ALEX, INTAKE, TeamsWorld

REPORT = {"problem": "Leads arrive in the CRM twice", "area": "Sales", "frequency": "weekly", "hours_per_week": "3",
          "people": "4", "customers_notice": "false", "idea": ""}  # fmt: skip
PROPOSAL = {"countermeasure": "One form, one webhook", "measure": "Duplicate leads per week", "unit": "/week",
            "direction": "lower", "baseline": "40", "target": "5", "not_to_do": "", "owner": ALEX.aad,
            "due_date": ""}  # fmt: skip


async def report(teams: TeamsWorld) -> str:
    """improve -> form -> submit; returns the card's activity id (the root of its reply chain)."""
    await teams.say(ALEX, "improve Leads arrive in the CRM twice", teams.personal(ALEX))
    form = teams.connector.posts_to(ALEX.personal)[-1]
    response = await teams.submit(ALEX, form, REPORT, teams.personal(ALEX))
    assert response.status_code == 200, response.text
    [card] = teams.connector.posts_to(INTAKE)
    return card.response["id"]


async def to_approval(teams: TeamsWorld, *, timezone: str = "UTC") -> str:
    """Report -> the why answered in the thread (from a Teams client in `timezone`) -> root cause -> Alex proposes
    the fix: the approval request is the thread's latest message. Returns the card's activity id."""
    root = await report(teams)
    chain = teams.thread(root)
    await teams.say(ALEX, "Two web forms", chain, timezone=timezone)
    await teams.click(ALEX, teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1], "root_cause", chain)
    await teams.click(ALEX, teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1], "propose", chain)
    await teams.submit(ALEX, teams.connector.posts_to(ALEX.personal)[-1], PROPOSAL, teams.personal(ALEX))
    return root
