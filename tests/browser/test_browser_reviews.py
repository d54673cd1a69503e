"""The Reviews page in Debian chromium: a review link shows the published result beside ours and the review's
trials in three groups; the button hands that set to Explore, whose URL and sidebar then carry review=."""

from __future__ import annotations

from evidence.analysis import reviews as rv


def test_a_review_link_reproduces_its_result_and_opens_the_set_on_explore(app):
    app.open("")
    app.open(app.path_of("Reviews"), {"review": "Chien2019", "outcome": "hospitalised"})
    app.assert_healthy()
    app.screenshot("reviews-reproduce-chien2019")
    assert app.metric("Published (RR)") == "0.44"
    assert app.metric("Ours (RR, DL)") == "0.44"
    counts = rv.reproduce("R-review_results-037").group_counts()
    headings = app.page.locator('[data-testid="stMain"] h3').all_inner_texts()
    for group, n in counts.items():
        assert any(h.strip().startswith(f"{group.capitalize()}: {n}") for h in headings), headings
    button = app.page.get_by_role("button", name="Analyse these trials on Explore, Sensitivity and the other pages")
    app.after(button.click)
    # in the same session, through the app's own navigation (the sidebar state goes with it)
    app.after(app.page.locator('[data-testid="stTopNavLink"]').filter(has_text="Explore").first.click)
    app.page.wait_for_load_state("networkidle")
    app.quiet()
    app.assert_healthy()
    app.screenshot("reviews-set-on-explore")
    assert app.query().get("review") == "Chien2019"
    assert app.metric("Studies (k)") == "1"
    sidebar = app.page.locator('[data-testid="stSidebar"]').inner_text()
    assert "Analysing only the trials included in Chien 2019" in sidebar
