"""The dashboard in headless Chromium (Debian's package) driven by Playwright.

Passkeys come from a virtual authenticator of the DevTools WebAuthn domain (CTAP2,
internal transport, resident keys, user verification): registration and login run the
real ceremony through navigator.credentials and the server's webauthn verification.
FLYWHEEL_SCREENSHOTS=1 saves the pages to docs/img/dashboard-*.png for docs/dashboard.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from playwright.sync_api import expect, sync_playwright

from ansible_collections.glorious.flywheel.tests.dashboard.support import (
    ADMIN_TOKEN,
    DEPLOYMENT,
    POOL,
    wait_ready,
)
from ansible_collections.glorious.flywheel.tests.support import ROOT

pytestmark = pytest.mark.lab

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / "docs" / "img"


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        subprocess.run(
            ["bash", "-c", f". {ROOT}/hack/lib/common.sh && ensure_debs chromium"],
            check=True,
        )
    with sync_playwright() as playwright:
        # Root in a container has no user namespaces for Chromium's sandbox.
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


def passkey_page(browser):
    """A page in a fresh context with its own virtual authenticator."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return page


def screenshot(page, name):
    if os.environ.get("FLYWHEEL_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"dashboard-{name}.png"), full_page=True)


def register(page, url, name, role, token=ADMIN_TOKEN):
    page.goto(f"{url}/login")
    page.fill("#register input[name=name]", name)
    page.select_option("#register select[name=role]", role)
    page.fill("#register input[name=token]", token)
    page.click("#register button[type=submit]")
    page.wait_for_url(f"{url}/")


def replicas(kube, namespace):
    return kube["apps"].read_namespaced_deployment(DEPLOYMENT, namespace).spec.replicas


def test_operator_registers_logs_in_and_pauses_a_pool(
    browser, live_server, kube, lab_namespace
):
    url = live_server["url"]
    page = passkey_page(browser)
    register(page, url, "olive", "operator")
    row = page.locator(f'tr[data-pool="{POOL}"]')
    expect(row.locator(".status")).to_have_text("HEALTHY")
    expect(row.locator(".ready")).to_have_text("2 / 2")
    expect(page.locator(".who")).to_contain_text("olive")
    screenshot(page, "overview")

    page.click("#logout")
    page.wait_for_url(f"{url}/login")
    page.goto(f"{url}/")
    page.wait_for_url(f"{url}/login")
    # The passkey is discoverable: no name is typed to log in.
    page.click("#login")
    page.wait_for_url(f"{url}/")
    expect(page.locator(".who")).to_contain_text("operator")

    page.goto(f"{url}/pools/{POOL}")
    # The page reloads itself once the action is done.
    with page.expect_navigation():
        page.click("button[data-action=pause]")
    assert replicas(kube, lab_namespace) == 0
    expect(page.locator("#pool-status ~ .paused")).to_have_text("paused")
    expect(page.locator("button[data-action=resume]")).to_be_enabled()
    expect(page.locator("#recent-actions")).to_contain_text("olive")
    screenshot(page, "pool-operator")
    with page.expect_navigation():
        page.click("button[data-action=resume]")
    wait_ready(kube["apps"], lab_namespace, 2)

    # Dismissing the confirmation sends nothing.
    page.goto(f"{url}/pools/{POOL}")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("button[data-action=recover]")
    expect(page.locator("#message")).to_have_text("")

    page.goto(f"{url}/history")
    expect(page.locator("svg.chart")).to_have_count(3)
    screenshot(page, "history")
    page.goto(f"{url}/drift")
    expect(page.locator("#drift-summary")).to_contain_text("2 tasks drifted")
    screenshot(page, "drift")
    page.context.close()


def test_viewer_cannot_trigger_actions(browser, live_server, kube, lab_namespace):
    url = live_server["url"]
    inviter = passkey_page(browser)
    register(inviter, url, "oscar", "operator")
    inviter.select_option("#invite-role", "viewer")
    inviter.click("#invite-create")
    expect(inviter.locator("#invite-code")).not_to_have_text("")
    code = inviter.locator("#invite-code").text_content()
    inviter.context.close()

    page = passkey_page(browser)
    # Asking for operator with a viewer's invite gets a viewer.
    register(page, url, "vera", "operator", token=code)
    expect(page.locator(".who .role")).to_have_text("viewer")
    page.goto(f"{url}/pools/{POOL}")
    for action in ("pause", "resume", "recover"):
        expect(page.locator(f"button[data-action={action}]")).to_be_disabled()
    expect(page.locator("#viewer-note")).to_be_visible()
    screenshot(page, "pool-viewer")
    # A disabled button is only a hint: the server refuses the call itself, even one
    # carrying the page's own valid CSRF token.
    status = page.evaluate(
        """async (pool) => (await fetch(`/api/pools/${pool}/pause`, {
             method: "POST",
             headers: {"X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content},
           })).status""",
        POOL,
    )
    assert status == 403
    assert replicas(kube, lab_namespace) == 2
    page.context.close()
