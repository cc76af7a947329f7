"""The admin page: the token is asked for and checked, a training run starts and is followed to its end."""

from playwright.sync_api import Page, expect

from testkit.service import TOKEN

TRAINING_TIMEOUT_MS = 900_000  # a real `dvc exp run` (a decoder and evaluate) on a busy 2-core machine


def test_a_wrong_token_is_refused_and_the_field_gets_the_focus(page: Page):
    page.goto("/admin")
    page.click("text=Start training")
    expect(page.get_by_role("alert")).to_contain_text("Admin token needed. enter the admin token first.")
    page.fill("#admin-token", "not-the-token")
    page.click("text=Start training")
    expect(page.get_by_role("alert")).to_contain_text("Wrong admin token. the admin token is not valid")
    expect(page.locator("#admin-token")).to_be_focused()


def test_a_bad_parameter_gets_the_services_explanation(page: Page):
    page.goto("/admin")
    page.fill("#admin-token", TOKEN)
    page.fill("#param-epochs", "0")
    page.click("text=Start training")
    expect(page.get_by_role("alert")).to_contain_text("A parameter is out of range. epochs must be an integer "
                                                      "from 1 to 500")


def test_a_training_run_is_launched_and_followed_to_its_new_model(training_page: Page):
    """A real `dvc exp run` of the tiny pipeline: the LSTM learns, beats its untrained version and is served."""
    page, epochs = training_page, 15
    page.goto("/admin")
    page.get_by_label("Admin token").fill(TOKEN)
    page.get_by_label("Epochs", exact=True).fill(str(epochs))
    page.get_by_label("Learning rate", exact=True).fill("0.005")
    page.get_by_label("Decoder").select_option("lstm")
    with page.expect_response("**/api/train") as started:
        page.get_by_role("button", name="Start training").click()
    assert started.value.status == 202
    job = started.value.json()["job_id"]

    status = page.locator("#job-status")
    expect(status).to_have_text("Succeeded.", timeout=TRAINING_TIMEOUT_MS)
    expect(page.locator("#job-id")).to_have_text(job)
    expect(page.locator("#job-epoch")).to_have_text(f"{epochs} of {epochs}")
    outcome = page.request.get(f"/api/train/{job}", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    version = outcome["model"]["version"]
    assert outcome["model"]["name"] == "captioner-lstm" and outcome["promoted"] is True and version != "1"
    reason = outcome["promotion_reason"]  # the gate's: "test_bleu1 ... beats ... of version 1"
    expect(page.locator("#job-model")).to_have_text(f"captioner-lstm version {version}, promoted ({reason})")
    expect(page.locator("#job-run")).to_contain_text(outcome["mlflow_run_id"])
    expect(page.locator("#job-log")).to_contain_text("Ran experiment")  # DVC's last line
    expect(page.locator("#job-progress")).to_have_attribute("max", str(epochs))

    page.reload()  # the job is remembered; its status needs the token again
    expect(status).to_contain_text(f"Last job: {job}.")
    page.get_by_label("Admin token").fill(TOKEN)
    page.get_by_role("button", name="Refresh the status").click()
    expect(status).to_have_text("Succeeded.")

    page.goto("/")  # the service serves the promoted version at once
    page.select_option("#model", "captioner-lstm")
    expect(page.locator("#model option:checked")).to_have_text(f"captioner-lstm (version {version})")
