"""Every `.venv/bin/flask --app wsgi ...` command the README and docs/ print, and the ones `make run`'s
set-up prints, run exactly as written in a new shell, in a directory set up as `make run`
sets it up (its `.env`, written by the Makefile's own recipe), and finish without error."""

import os
import re
import subprocess

import pytest

from tests.conftest import ROOT, write_small_corpus

COMMAND = re.compile(r"(?m)(?:^|`|\s)(\.venv/bin/flask --app wsgi [^`\n]+)")
# Commands whose words are placeholders, or that serve for ever.
PLACEHOLDER = re.compile(r"\b[A-Z]{3,}\b|<|\.\.\.|\[|worker")


def readme_commands() -> list[str]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found = [command for page in pages
             for command in COMMAND.findall(page.read_text(encoding="utf-8"))]
    commands = [c.strip() for c in found if not PLACEHOLDER.search(c)]
    if not (ROOT.parent / "shared").exists():  # the public data sets are not on this machine
        commands = [c for c in commands if "../shared" not in c]
    return list(dict.fromkeys(commands))


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A directory that looks like the project after `make run`: the code (linked), the
    virtual environment, and the .env the Makefile writes; a database of its own."""
    parent = tmp_path_factory.mktemp("work")
    here = parent / "checkout"
    here.mkdir()
    if (ROOT.parent / "shared").exists():  # the README's ../shared/datasets
        (parent / "shared").symlink_to(ROOT.parent / "shared")
    for name in (".venv", "wsgi.py", "service", "classifier", "migrations", "training_data",
                 "Makefile", "requirements.txt"):
        (here / name).symlink_to(ROOT / name)
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(here))}
    make = subprocess.run(["make", "-s", ".env", "APP_ENV=development", "WEBHOOK_ALLOW_HTTP=1",
                           "WEBHOOK_ALLOW_PRIVATE=1"], cwd=here, env=env,
                          capture_output=True, text=True, timeout=60)
    assert make.returncode == 0, make.stderr
    assert "APP_ENV=development" in (here / ".env").read_text()
    # The test's own database and models, where make run would use instance/; a small seed
    # corpus, so that `model train` takes seconds.
    with open(here / ".env", "a", encoding="utf-8") as handle:
        handle.write(f"INSTANCE_PATH={here / 'instance'}\n"
                     f"TRAINING_DATA_DIR={write_small_corpus(parent / 'seed')}\n")
    setup = [".venv/bin/flask --app wsgi db upgrade", ".venv/bin/flask --app wsgi quickstart"]
    outputs = [shell(here, command) for command in setup]
    return here, outputs[-1]


def shell(directory, command: str, stdin: str = "") -> subprocess.CompletedProcess:
    """``command`` as a person types it in a new shell: no variables of ours."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(directory))}
    result = subprocess.run(["bash", "-c", command], cwd=directory, env=env, input=stdin,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


def test_the_readme_names_its_commands():
    commands = readme_commands()
    assert any("users password admin" in c for c in commands)
    assert any("sites update demo --policy strict" in c for c in commands)


def test_set_up_ends_with_one_block_and_its_commands_work(checkout):
    directory, quickstart = checkout
    block = quickstart.stdout.strip().splitlines()
    assert block[0].startswith("---") and block[-1].startswith("---") and len(block) <= 9
    text = quickstart.stdout
    assert "http://127.0.0.1:8000/login as admin with the password " in text
    assert re.search(r"API key of the site 'demo': mk_\S+", text)
    printed = re.findall(r"(\.venv/bin/flask --app wsgi .+)$", text, re.M)
    assert len(printed) == 2
    for command in printed:
        shell(directory, command, stdin="a-new-password-1\na-new-password-1\n")
    # A second run shows no secret again.
    again = shell(directory, ".venv/bin/flask --app wsgi quickstart").stdout
    assert "shown on the first run" in again and "mk_" not in again


@pytest.mark.parametrize("command", readme_commands())
def test_each_readme_command_works_as_printed(checkout, command):
    directory, _ = checkout
    shell(directory, command, stdin="a-new-password-1\na-new-password-1\n")


def test_commands_start_without_loading_scikit_learn(checkout):
    # The CLI answers in about a second because the app imports the classifier's heavy
    # parts only where a model is trained or used.
    directory, _ = checkout
    help_text = shell(directory, ".venv/bin/flask --app wsgi --help").stdout
    assert "quickstart" in help_text and "sites" in help_text
    loaded = shell(directory, ".venv/bin/python -c 'import sys, wsgi; "
                              "print(sorted(m for m in (\"sklearn\", \"scipy\", \"matplotlib\") "
                              "if m in sys.modules))'").stdout.strip()
    assert loaded == "[]"
