"""News in the browser: an admin writes and publishes a post through the form, the public
finds it from the header, the home page and /news, and a member comments on it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import OpenPage
from .harness import PHONE, Account, field, screenshot

pytestmark = pytest.mark.browser

TITLE = "The tracker moved to a faster machine"
BODY = """We moved the **tracker** to a new machine over the weekend. What changes for you:

- announces are answered faster, from the same addresses as before;
- nothing at all: your clients need no new settings.

If anything looks wrong, say so in the comments below or read [the README](https://example.org/readme).
"""


def test_admin_publishes_and_a_member_comments(
    open_page: OpenPage, admin: Account, uploader: Account
) -> None:
    # The admin writes, from the news page.
    page, _ = open_page(as_user=admin)
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="News").click()
    expect(page).to_have_url(re.compile(r"/news$"))
    page.get_by_role("link", name="Write a post").click()
    field(page, "Title").fill(TITLE)
    field(page, "Text").fill(BODY)
    expect(field(page, "Publish time")).to_have_value("")  # empty: now
    screenshot(page, "news-form")
    page.get_by_role("button", name="Publish").click()
    expect(page).to_have_url(re.compile(r"/news/\d+-the-tracker-moved-to-a-faster-machine$"))
    post_path = re.sub(r"^https?://[^/]+", "", page.url)
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.locator(".news-body strong")).to_have_text("tracker")
    expect(page.locator(".news-body li")).to_have_count(2)
    expect(page.get_by_role("link", name="Edit")).to_be_visible()
    screenshot(page, "news-post-staff")

    # The public sees it on the home page, then on /news.
    visitor, _ = open_page()
    visitor.goto("/")
    news = visitor.get_by_role("region", name="News")
    expect(news.get_by_role("link", name=TITLE)).to_be_visible()
    expect(news).to_contain_text("We moved the tracker to a new machine")
    screenshot(visitor, "home-with-news")
    news.get_by_role("link", name="All news").click()
    expect(visitor).to_have_url(re.compile(r"/news$"))
    expect(visitor.get_by_role("link", name=TITLE)).to_be_visible()
    expect(visitor.get_by_role("link", name="Write a post")).to_have_count(0)
    screenshot(visitor, "news-list")
    visitor.get_by_role("link", name=TITLE).click()
    expect(visitor).to_have_url(re.compile(re.escape(post_path) + "$"))
    expect(visitor.get_by_role("link", name="Log in to comment")).to_be_visible()

    # A member comments.
    member, _ = open_page(as_user=uploader)
    member.goto(post_path)
    comments = member.get_by_role("region", name="Comments")
    expect(comments).to_contain_text("No comments yet.")
    field(member, "Add a comment").fill("Announces feel **much** snappier, thanks!")
    member.get_by_role("button", name="Post comment").click()
    expect(member).to_have_url(re.compile(re.escape(post_path) + r"#comment-\d+$"))
    comment = comments.locator("li.comment").last
    expect(comment.locator(".comment-body strong")).to_have_text("much")
    expect(comment.locator(".comment-meta")).to_contain_text(uploader.name)
    expect(comments.get_by_role("heading", level=2)).to_have_text("Comments (1)")
    screenshot(member, "news-post")

    # The same post in dark mode and on a phone: readable, nothing wider than the screen.
    dark, _ = open_page(color_scheme="dark")
    dark.goto(post_path)
    expect(dark.locator("li.comment")).to_have_count(1)
    screenshot(dark, "news-post-dark")
    phone, _ = open_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    phone.goto("/news")
    width = phone.evaluate("() => document.documentElement.clientWidth")
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= width
    screenshot(phone, "news-list-phone")
