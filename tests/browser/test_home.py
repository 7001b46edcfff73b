"""The home page and what every page shares: header, search box, navigation, colours, focus,
layout on a phone, the error page, and the live figures behind them."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Locator, Page, expect

from .conftest import OpenPage
from .harness import PHONE, Site, screenshot

pytestmark = pytest.mark.browser


def luminance(css_colour: str) -> float:
    """Relative luminance (0 black .. 1 white) of a computed `rgb(...)`/`rgba(...)` colour."""
    match = re.match(r"rgba?\((\d+),\s*(\d+),\s*(\d+)", css_colour)
    assert match, css_colour

    def channel(value: str) -> float:
        c = int(value) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in match.groups())
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def colours(page: Page) -> tuple[float, float]:
    """Luminance of the page's background and of its body text."""
    background, text = page.evaluate(
        "() => { const s = getComputedStyle(document.body); return [s.backgroundColor, s.color]; }"
    )
    return luminance(background), luminance(text)


def main_nav(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Main")


def search_box(page: Page) -> Locator:
    return page.get_by_role("searchbox", name="Search torrents")


def test_home_page(page: Page, site: Site) -> None:
    response = page.goto("/")
    assert response is not None and response.status == 200
    csp = response.headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp, csp

    expect(page).to_have_title(re.compile("swarmdex"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(search_box(page)).to_be_visible()
    expect(page.get_by_role("button", name="Search")).to_be_visible()
    for name in ("Browse", "Log in", "Register"):
        expect(main_nav(page).get_by_role("link", name=name)).to_be_visible()
    # The announce URLs people add to their own torrents are the ones the server listens on.
    tracker = page.get_by_role("heading", name="Tracker", exact=True).locator("xpath=..")
    expect(tracker).to_contain_text(site.server.url("http"))
    expect(tracker).to_contain_text(site.server.url("udp"))
    expect(tracker).to_contain_text("active torrents")
    # Stylesheet applied: the header's cards have a border, the body is not the UA default.
    assert page.evaluate("() => getComputedStyle(document.body).margin") == "0px"
    screenshot(page, "home-desktop")


def test_home_on_a_phone(open_page: OpenPage) -> None:
    page, _ = open_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    page.goto("/")
    width = page.evaluate("() => document.documentElement.clientWidth")
    scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll_width <= width, f"the page scrolls sideways on a phone: {scroll_width} > {width}"
    box = search_box(page).bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
    assert box["width"] >= 150, f"the search box is too narrow to use on a phone: {box}"
    for name in ("Browse", "Log in", "Register"):
        link = main_nav(page).get_by_role("link", name=name)
        expect(link).to_be_in_viewport()
    screenshot(page, "home-phone")


def test_dark_mode_follows_the_system(open_page: OpenPage) -> None:
    dark, _ = open_page(color_scheme="dark")
    dark.goto("/")
    background, text = colours(dark)
    assert background < 0.05, f"dark mode background is not dark (luminance {background:.2f})"
    assert text > 0.6, f"dark mode text is not light (luminance {text:.2f})"
    screenshot(dark, "home-dark")

    light, _ = open_page(color_scheme="light")
    light.goto("/")
    background, text = colours(light)
    assert background > 0.8 and text < 0.1, (background, text)


FOCUS_STYLE = """e => {
  const s = getComputedStyle(e);
  return {outline: `${s.outlineStyle} ${s.outlineWidth}`, shadow: s.boxShadow,
          visible: e.matches(':focus-visible')};
}"""


def test_keyboard_reaches_search_and_navigation(page: Page) -> None:
    page.goto("/")
    targets = {
        "search box": search_box(page),
        **{name: main_nav(page).get_by_role("link", name=name)
           for name in ("Browse", "Log in", "Register")},
    }
    reached: dict[str, dict[str, object]] = {}
    order: list[str] = []
    for _ in range(20):
        page.keyboard.press("Tab")
        for name, target in targets.items():
            if name not in reached and target.evaluate("e => e === document.activeElement"):
                reached[name] = target.evaluate(FOCUS_STYLE)
                order.append(name)
                if name == "search box":
                    screenshot(page, "home-keyboard-focus")
        if len(reached) == len(targets):
            break
    missing = targets.keys() - reached.keys()
    assert not missing, f"Tab never reached {sorted(missing)} (reached in order: {order})"
    assert order.index("search box") < order.index("Browse"), order
    for name, style in reached.items():
        assert style["visible"], f"{name}: focus is not :focus-visible after Tab"
        outline = str(style["outline"])
        assert (not outline.startswith("none") and not outline.endswith(" 0px")) \
            or style["shadow"] != "none", f"{name}: no visible focus indicator ({style})"


def test_skip_link_moves_to_the_content(page: Page) -> None:
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("#main$"))


def test_not_found_page(open_page: OpenPage) -> None:
    page, watch = open_page()
    watch.allow(r"status of 404")  # Chromium logs the page's own 404 status
    response = page.goto("/no/such/page")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(search_box(page)).to_be_visible()  # the site's frame, not a bare error
    page.get_by_role("link", name="Back to the home page").click()
    expect(page).to_have_url(re.compile(r"/$"))

    phone, watch = open_page(viewport=PHONE, is_mobile=True, device_scale_factor=2)
    watch.allow(r"status of 404")
    phone.goto("/no/such/page")
    screenshot(phone, "not-found-phone")


def test_stats_json(site: Site) -> None:
    status, headers, body = site.fetch("/stats.json")
    assert status == 200
    assert headers["content-type"].startswith("application/json")
    stats = json.loads(body)
    for key in ("version", "torrents_active", "peers", "announces", "scrapes", "uptime_s"):
        assert key in stats, stats
    assert isinstance(stats["peers"], int) and stats["peers"] >= 0
